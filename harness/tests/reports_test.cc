// The report writers produce valid documents whatever the tests printed.
#include "reports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace llmk::kata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Text a test binary might print: XML and JSON specials, an escape sequence,
// invalid UTF-8, a control character, a markdown table break and a fence.
const std::string kNasty = "<tag attr=\"v\"> & 'q' \x1b[31mred\x1b[0m \xff\xfe \x01 | ``` end";

GradeReport SampleGrade() {
  GradeReport report;
  report.variant = "learner";

  KataResult kata;
  kata.name = "02_attention";
  kata.title = "Q, K, V <&>";
  kata.dir = "katas/02_attention";
  kata.short_id = "02";
  kata.variant = "learner";
  StepResult passing;
  passing.number = 1;
  passing.suite = "Step1_Projection";
  passing.title = "Project";
  passing.anchor = "step-1";
  passing.status = StepStatus::kPassing;
  passing.tests = {TestResult{"Step1_Projection.Works", TestOutcome::kPassed, {}, 0.01}};
  StepResult failing = passing;
  failing.number = 2;
  failing.suite = "Step2_Scores";
  failing.title = "Scores Q·Kᵀ";
  failing.status = StepStatus::kFailing;
  failing.detail = "1 of 2 tests fail";
  failing.tests = {
      TestResult{"Step2_Scores.Wrong", TestOutcome::kFailed, {"a.cc:3\n" + kNasty}, 0.02},
      TestResult{"Step2_Scores.Stub",
                 TestOutcome::kTodo,
                 {"unknown file\nllmk::NotImplemented: Scores is not implemented yet"},
                 0}};
  StepResult crashed = passing;
  crashed.number = 3;
  crashed.suite = "Step3_Scaling";
  crashed.status = StepStatus::kCrashed;
  crashed.detail = "crashed in Step 3 (SIGSEGV)";
  crashed.unfinished_test = "Step3_Scaling.Boom";
  crashed.output = kNasty;
  crashed.tests = {TestResult{"Step3_Scaling.Boom", TestOutcome::kNotRun, {}, 0},
                   TestResult{"Step3_Scaling.After", TestOutcome::kNotRun, {}, 0}};
  StepResult empty = passing;
  empty.number = 4;
  empty.suite = "Step4_Softmax";
  empty.status = StepStatus::kNoTests;
  empty.detail = "no tests in Step4_Softmax";
  empty.tests.clear();
  kata.steps = {passing, failing, crashed, empty};
  report.katas.push_back(kata);

  KataResult broken;
  broken.name = "03_rope";
  broken.title = "RoPE";
  broken.dir = "katas/03_rope";
  broken.problem = KataProblem::kDoesNotCompile;
  broken.problem_detail = "the build of 03_rope_test failed";
  broken.problem_output = "rope.cc:1:1: error: " + kNasty;
  report.katas.push_back(broken);
  return report;
}

TEST(JsonReport, ParsesBackWithEveryField) {
  const std::string text = JsonReport(SampleGrade());
  const nlohmann::json json = nlohmann::json::parse(text);  // throws if invalid
  EXPECT_EQ(json["schema"], "llmk-kata-grade/1");
  EXPECT_EQ(json["passed"], false);
  EXPECT_EQ(json["score"]["passing_steps"], 1);
  EXPECT_EQ(json["score"]["steps"], 4);
  const nlohmann::json& kata = json["katas"][0];
  EXPECT_EQ(kata["title"], "Q, K, V <&>");
  EXPECT_EQ(kata["steps"][1]["title"], "Scores Q·Kᵀ");
  EXPECT_EQ(kata["steps"][1]["status"], "failing");
  EXPECT_EQ(kata["steps"][1]["readme"], "katas/02_attention/README.md#step-1");
  EXPECT_EQ(kata["steps"][1]["tests"][0]["outcome"], "failed");
  EXPECT_THAT(kata["steps"][1]["tests"][0]["failures"][0].get<std::string>(),
              HasSubstr("<tag attr=\"v\"> & 'q' red"));
  EXPECT_EQ(kata["steps"][1]["tests"][1]["outcome"], "todo");
  EXPECT_EQ(kata["steps"][2]["status"], "crashed");
  EXPECT_EQ(kata["steps"][2]["unfinished_test"], "Step3_Scaling.Boom");
  EXPECT_EQ(kata["steps"][3]["status"], "no_tests");
  EXPECT_EQ(json["katas"][1]["problem"], "does_not_compile");
}

// A small well-formedness check: tags balance, attribute values are quoted,
// text has no raw '<', and every '&' starts a known entity.
::testing::AssertionResult IsWellFormedXml(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t i = xml.find("?>");
  if (!xml.starts_with("<?xml") || i == std::string::npos) {
    return ::testing::AssertionFailure() << "no XML declaration";
  }
  i += 2;
  static const std::regex kEntity(R"(^&(amp|lt|gt|quot|apos);)");
  static const std::regex kTag(
      R"(^<(/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(/?)>)");
  while (i < xml.size()) {
    const char c = xml[i];
    if (c == '&') {
      if (!std::regex_search(xml.begin() + static_cast<long>(i), xml.end(), kEntity)) {
        return ::testing::AssertionFailure() << "bare & at " << i << ": " << xml.substr(i, 20);
      }
      ++i;
      continue;
    }
    if (c != '<') {
      if (c == '>' && !open.empty()) {
        return ::testing::AssertionFailure() << "raw > in text at " << i;
      }
      ++i;
      continue;
    }
    std::smatch tag;
    const std::string rest = xml.substr(i, 4096);
    if (!std::regex_search(rest, tag, kTag)) {
      return ::testing::AssertionFailure() << "malformed tag at " << i << ": " << xml.substr(i, 60);
    }
    const std::string name = tag[2];
    if (tag[1] == "/") {
      if (open.empty() || open.back() != name) {
        return ::testing::AssertionFailure() << "unbalanced </" << name << "> at " << i;
      }
      open.pop_back();
    } else if (tag[4] != "/") {
      open.push_back(name);
    }
    // Attribute values may contain '&': check those entities too.
    const std::string attributes = tag[3];
    for (std::size_t a = attributes.find('&'); a != std::string::npos;
         a = attributes.find('&', a + 1)) {
      if (!std::regex_search(attributes.begin() + static_cast<long>(a), attributes.end(),
                             kEntity)) {
        return ::testing::AssertionFailure() << "bare & in attributes of <" << name << ">";
      }
    }
    i += static_cast<std::size_t>(tag.length(0));
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> not closed";
  return ::testing::AssertionSuccess();
}

TEST(JunitReport, IsWellFormedAndCountsRight) {
  const std::string xml = JunitReport(SampleGrade());
  EXPECT_TRUE(IsWellFormedXml(xml)) << xml;
  EXPECT_THAT(xml, HasSubstr("tests=\"7\" failures=\"3\" errors=\"2\" skipped=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"02_attention.Step2_Scores\""));
  EXPECT_THAT(xml, HasSubstr("&lt;tag attr=&quot;v&quot;&gt; &amp; &apos;q&apos; red"));
  EXPECT_THAT(xml, HasSubstr("<error type=\"crashed\" message=\"crashed in Step 3 (SIGSEGV)\""));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"todo\""));
  EXPECT_THAT(xml, HasSubstr("<error type=\"does_not_compile\""));
  EXPECT_THAT(xml, Not(HasSubstr("\x1b")));
  EXPECT_THAT(xml, Not(HasSubstr("\x01")));
}

TEST(JunitReport, CheckerRejectsBrokenXml) {
  EXPECT_FALSE(IsWellFormedXml("<?xml version=\"1.0\"?>\n<a><b></a>"));
  EXPECT_FALSE(IsWellFormedXml("<?xml version=\"1.0\"?>\n<a>x & y</a>"));
  EXPECT_FALSE(IsWellFormedXml("<?xml version=\"1.0\"?>\n<a t=\"<\"/>"));
  EXPECT_TRUE(IsWellFormedXml("<?xml version=\"1.0\"?>\n<a t=\"&amp;\"><b/>x &lt; y</a>"));
}

TEST(MarkdownReport, HasTheTableAndTheDetails) {
  const std::string markdown = MarkdownReport(SampleGrade());
  EXPECT_THAT(markdown, HasSubstr("# Kata grade (learner): 1/4 steps passing ❌\n"));
  EXPECT_THAT(markdown, HasSubstr("| Kata | Step | Title | Status | Detail |\n"
                                  "| --- | ---: | --- | --- | --- |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 02_attention | 1 | Project | ✅ passing |  |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 02_attention | 3 | Project | 💥 crashed | crashed in Step 3 "
                                  "(SIGSEGV) |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 03_rope | | RoPE | 💥 does not compile |"));
  // The nasty text's ``` is fenced by a longer fence.
  EXPECT_THAT(markdown, HasSubstr("````text\n"));
  // Every table row has the same number of unescaped column breaks.
  for (std::size_t at = markdown.find("\n| "); at != std::string::npos;
       at = markdown.find("\n| ", at + 1)) {
    const std::string row = markdown.substr(at + 1, markdown.find('\n', at + 1) - at - 1);
    const std::string unescaped = std::regex_replace(row, std::regex(R"(\\\|)"), "");
    EXPECT_EQ(std::count(unescaped.begin(), unescaped.end(), '|'), 6) << row;
  }
}

// SampleGrade graded with an assignment, a benchmark run and digests.
GradeReport GradedSampleReport() {
  GradeReport report = SampleGrade();
  report.has_assignment = true;
  report.assignment_title = "Week 2: <attention>";
  report.assignment_file = "week2.json";
  report.score = 7.5;
  report.max_score = 10;
  report.integrity_fails = true;
  report.digests_file = "tests.sha256";
  report.shared_files = {
      FileCheck{"harness/support/fixture.cc", "aa", "aa", FileState::kUnchanged}};
  KataResult& kata = report.katas[0];
  kata.weight = 4;
  kata.earned = 1;
  kata.assigned_steps = {1, 2};
  kata.performance_run = true;
  PerformanceThreshold speedup;
  speedup.what = "causal | faster";
  speedup.benchmark = "BM_Causal";
  speedup.baseline = "BM_Full";
  speedup.min_speedup = 1.5;
  speedup.weight = 2;
  PerformanceThreshold counter;
  counter.what = "flops";
  counter.benchmark = "BM_Causal";
  counter.counter = "GFLOP/s";
  counter.min = 20;
  kata.performance = {ThresholdResult{speedup, 41.1, true, "41.10x (needs >= 1.50x)"},
                      ThresholdResult{counter, 12.5, false, "GFLOP/s = 12.5 (needs >= 20)"}};
  kata.performance_weight = 3;
  kata.performance_earned = 2;
  kata.files = {FileCheck{"katas/02_attention/attention_test.cc", "bb", "cc", FileState::kChanged},
                FileCheck{"fixtures/02_attention/x.json", "dd", "", FileState::kMissing},
                FileCheck{"katas/02_attention/kata.json", "ee", "ee", FileState::kUnchanged}};
  kata.integrity_failed = true;
  report.katas[1].weight = 6;
  return report;
}

TEST(JsonReport, CarriesTheAssignmentPerformanceAndIntegrity) {
  const nlohmann::json json = nlohmann::json::parse(JsonReport(GradedSampleReport()));
  EXPECT_EQ(json["schema"], "llmk-kata-grade/1");
  EXPECT_EQ(json["assignment"]["title"], "Week 2: <attention>");
  EXPECT_EQ(json["assignment"]["file"], "week2.json");
  EXPECT_EQ(json["assignment"]["integrity"], "fail");
  EXPECT_EQ(json["assignment"]["score"], 7.5);
  EXPECT_EQ(json["assignment"]["max_score"], 10);
  EXPECT_EQ(json["integrity"]["checked"], true);
  EXPECT_EQ(json["integrity"]["digests"], "tests.sha256");
  EXPECT_EQ(json["integrity"]["shared_files"][0]["state"], "unchanged");
  const nlohmann::json& kata = json["katas"][0];
  EXPECT_EQ(kata["weight"], 4);
  EXPECT_EQ(kata["earned"], 1);
  EXPECT_EQ(kata["assigned_steps"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(kata["performance_run"], true);
  EXPECT_EQ(kata["performance_weight"], 3);
  EXPECT_EQ(kata["performance_earned"], 2);
  ASSERT_EQ(kata["performance"].size(), 2u);
  const nlohmann::json& speedup = kata["performance"][0];
  EXPECT_EQ(speedup["what"], "causal | faster");
  EXPECT_EQ(speedup["benchmark"], "BM_Causal");
  EXPECT_EQ(speedup["baseline"], "BM_Full");
  EXPECT_EQ(speedup["measured"], 41.1);
  EXPECT_EQ(speedup["required"], ">= 1.5x");
  EXPECT_EQ(speedup["min_speedup"], 1.5);
  EXPECT_TRUE(speedup["min"].is_null());
  EXPECT_EQ(speedup["passed"], true);
  EXPECT_EQ(speedup["weight"], 2);
  EXPECT_EQ(speedup["detail"], "41.10x (needs >= 1.50x)");
  EXPECT_EQ(kata["performance"][1]["counter"], "GFLOP/s");
  EXPECT_EQ(kata["performance"][1]["required"], ">= 20");
  EXPECT_EQ(kata["performance"][1]["passed"], false);
  EXPECT_EQ(kata["integrity"]["broken"], true);
  EXPECT_EQ(kata["integrity"]["failed"], true);
  const nlohmann::json& changed = kata["integrity"]["files"][0];
  EXPECT_EQ(changed["path"], "katas/02_attention/attention_test.cc");
  EXPECT_EQ(changed["sha256"], "cc");
  EXPECT_EQ(changed["expected_sha256"], "bb");
  EXPECT_EQ(changed["state"], "changed");
  EXPECT_EQ(kata["integrity"]["files"][1]["state"], "missing");
  EXPECT_EQ(kata["passed"], false);
}

TEST(JsonReport, WithoutAnAssignmentItIsNull) {
  const nlohmann::json json = nlohmann::json::parse(JsonReport(SampleGrade()));
  EXPECT_TRUE(json["assignment"].is_null());
  EXPECT_EQ(json["integrity"]["checked"], false);
  EXPECT_EQ(json["katas"][0]["performance"], nlohmann::json::array());
}

TEST(JunitReport, HasAPerformanceAndAnIntegritySuite) {
  const std::string xml = JunitReport(GradedSampleReport());
  EXPECT_TRUE(IsWellFormedXml(xml)) << xml;
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"02_attention.performance\" tests=\"2\" "
                             "failures=\"1\" errors=\"0\""));
  EXPECT_THAT(xml, HasSubstr("<testcase classname=\"02_attention.performance\" "
                             "name=\"causal | faster\" time=\"0.000\"/>"));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"not_met\" message=\"GFLOP/s = 12.5 (needs &gt;= "
                             "20)\""));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"02_attention.integrity\" tests=\"2\" "
                             "failures=\"2\""));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"changed\" message=\"katas/02_attention/"
                             "attention_test.cc changed\""));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"missing\""));
  EXPECT_THAT(xml, Not(HasSubstr("shared.integrity")));  // the shared file is unchanged
  // 7 step testcases, 2 thresholds, 2 files.
  EXPECT_THAT(xml, HasSubstr("<testsuites name=\"llm-katas (learner)\" tests=\"11\" "
                             "failures=\"6\" errors=\"2\" skipped=\"1\""));
}

TEST(JunitReport, ABenchmarkThatDidNotRunIsAnError) {
  GradeReport report = SampleGrade();
  report.katas[0].performance_run = true;
  report.katas[0].performance_problem = "the benchmark x_bench does not compile";
  report.shared_files = {FileCheck{"harness/support/a.cc", "aa", "ab", FileState::kChanged}};
  const std::string xml = JunitReport(report);
  EXPECT_TRUE(IsWellFormedXml(xml)) << xml;
  EXPECT_THAT(xml, HasSubstr("<error type=\"benchmark\" message=\"the benchmark x_bench does "
                             "not compile\""));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"shared.integrity\" tests=\"1\" failures=\"1\""));
}

TEST(MarkdownReport, HasTheScorePerformanceTableAndIntegritySection) {
  const std::string markdown = MarkdownReport(GradedSampleReport());
  EXPECT_THAT(markdown, HasSubstr("# Week 2: &lt;attention&gt;: 7.5/10 ❌\n"));
  EXPECT_THAT(markdown, HasSubstr("| 02_attention | 1, 2 | 4 | 1 | 3 | 2 |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 03_rope | all | 6 | 0 | 0 | 0 |\n"));
  EXPECT_THAT(markdown,
              HasSubstr("## Performance\n\n"
                        "| Kata | Threshold | Measured | Required | Result | Weight |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 02_attention | causal \\| faster | 41.1x | &gt;= 1.5x | ✅ met "
                                  "41.10x (needs &gt;= 1.50x) | 2 |\n"));
  EXPECT_THAT(markdown, HasSubstr("| 02_attention | flops | 12.5 | &gt;= 20 | ❌ not met"));
  EXPECT_THAT(markdown, HasSubstr("## Integrity\n\nChecked against `tests.sha256`: these files "
                                  "differ, and the assignment fails a kata that changes them."));
  EXPECT_THAT(markdown, HasSubstr("- `katas/02_attention/attention_test.cc` changed\n"));
  EXPECT_THAT(markdown, HasSubstr("- `fixtures/02_attention/x.json` missing\n"));
  EXPECT_THAT(markdown, Not(HasSubstr("kata.json` unchanged")));
}

TEST(MarkdownReport, SaysWhenTheFilesWereNotChecked) {
  GradeReport report = SampleGrade();
  report.has_assignment = true;
  EXPECT_THAT(MarkdownReport(report), HasSubstr("## Integrity\n\nNot checked (no digests).\n"));
  EXPECT_THAT(MarkdownReport(SampleGrade()), Not(HasSubstr("## Integrity")));
}

}  // namespace
}  // namespace llmk::kata
