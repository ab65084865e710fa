// The HTML report is one self-contained, well-formed page whatever a test
// binary printed, and its bars say what the numbers say.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reports.h"

namespace llmk::kata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSubsetOf;
using ::testing::Not;
using ::testing::Pair;

// Markup a test binary might print, invalid UTF-8, an escape sequence and a
// control character.
const std::string kHostile =
    "</div></td></table><script>alert(1)</script><img src=x onerror=alert(2)> \xff\xfe\xc3 "
    "\x1b[31mred\x1b[0m \x01 & end";
const std::string kHostileEscaped =
    "&lt;/div&gt;&lt;/td&gt;&lt;/table&gt;&lt;script&gt;alert(1)&lt;/script&gt;";

// The elements the report emits; anything else in the page came from input.
const std::set<std::string> kEmittedElements = {
    "html", "head", "meta", "title", "style", "body",  "main", "header",  "div",
    "h1",   "h2",   "h3",   "span",  "b",     "small", "br",   "section", "table",
    "tr",   "td",   "code", "pre",   "p",     "ul",    "li",   "footer"};
const std::set<std::string> kVoidElements = {"meta", "br"};

// Checks that `html` is well-formed for the markup the report uses: every
// element closed in order, void elements not closed, quoted attributes, no raw
// '<' in text, every '&' an entity, the <style> text free of '<'. Returns the
// first problem, or "" (and the element names seen, in `elements`).
std::string CheckWellFormed(std::string_view html, std::set<std::string>& elements) {
  std::vector<std::string> open;
  std::size_t i = 0;
  if (html.substr(0, 15) != "<!doctype html>") return "no <!doctype html> first";
  i = 15;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '&') {
      static const std::regex kEntity("^&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);");
      std::match_results<std::string_view::const_iterator> match;
      if (!std::regex_search(html.begin() + i, html.end(), match, kEntity)) {
        return "bare '&' at " + std::to_string(i);
      }
      i += match.length(0);
      continue;
    }
    if (c == '>') return "bare '>' in text at " + std::to_string(i);
    if (c != '<') {
      ++i;
      continue;
    }
    const bool closing = i + 1 < html.size() && html[i + 1] == '/';
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < html.size() && std::isalnum(static_cast<unsigned char>(html[j]))) ++j;
    const std::string name(html.substr(name_start, j - name_start));
    if (name.empty()) return "'<' that starts no tag at " + std::to_string(i);
    // Attributes: name="value" pairs, values without '<' or '"'.
    while (j < html.size() && html[j] != '>') {
      if (html[j] == '<') return "'<' inside the tag <" + name + ">";
      if (html[j] == '=') {
        if (j + 1 >= html.size() || html[j + 1] != '"') return "unquoted attribute in <" + name;
        const std::size_t end = html.find('"', j + 2);
        if (end == std::string_view::npos) return "unterminated attribute in <" + name;
        if (html.substr(j + 2, end - j - 2).find('<') != std::string_view::npos) {
          return "'<' in an attribute of <" + name;
        }
        j = end;
      }
      ++j;
    }
    if (j >= html.size()) return "unterminated tag <" + name;
    i = j + 1;
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      }
      open.pop_back();
      continue;
    }
    elements.insert(name);
    if (kVoidElements.count(name) > 0) continue;
    if (name == "style" || name == "script") {
      const std::size_t end = html.find("</" + name + ">", i);
      if (end == std::string_view::npos) return "unclosed <" + name + ">";
      if (html.substr(i, end - i).find('<') != std::string_view::npos) {
        return "'<' inside <" + name + ">";
      }
      i = end;
    }
    open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return "";
}

std::string CheckWellFormed(std::string_view html) {
  std::set<std::string> elements;
  return CheckWellFormed(html, elements);
}

// True if `text` is valid UTF-8 without control characters other than tab and newline.
bool IsCleanUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<std::uint8_t>(text[i]);
    if (byte < 0x80) {
      if ((byte < 0x20 && byte != '\n' && byte != '\t') || byte == 0x7f) return false;
      ++i;
      continue;
    }
    const int length = byte >= 0xF0 && byte < 0xF5   ? 4
                       : byte >= 0xE0 && byte < 0xF0 ? 3
                       : byte >= 0xC2 && byte < 0xE0 ? 2
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      if ((static_cast<std::uint8_t>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

StepResult HtmlStep(int number, std::string suite, StepStatus status, int passed, int total) {
  StepResult step;
  step.number = number;
  step.suite = suite;
  step.title = "Step title " + std::to_string(number);
  step.anchor = "step-" + std::to_string(number);
  step.status = status;
  for (int t = 0; t < total; ++t) {
    TestResult test;
    test.name = suite + ".Test" + std::to_string(t);
    test.outcome = t < passed                    ? TestOutcome::kPassed
                   : status == StepStatus::kTodo ? TestOutcome::kTodo
                                                 : TestOutcome::kFailed;
    if (test.outcome == TestOutcome::kFailed) {
      test.failures = {"katas/x/x_test.cc:" + std::to_string(10 + t) + "\nValue differs"};
    }
    if (test.outcome == TestOutcome::kTodo) {
      test.failures = {"unknown file\nllmk::NotImplemented: F is not implemented yet"};
    }
    step.tests.push_back(test);
  }
  if (status != StepStatus::kPassing) {
    step.detail = std::to_string(total - passed) + " of " + std::to_string(total) + " tests fail";
  }
  return step;
}

KataResult Kata(std::string name, std::vector<StepResult> steps) {
  KataResult kata;
  kata.name = name;
  kata.title = "Title of " + name;
  kata.dir = "katas/" + name;
  kata.short_id = name.substr(0, 2);
  kata.variant = "learner";
  kata.steps = std::move(steps);
  return kata;
}

// Two katas: one with passing, failing, todo and crashed steps, one passing.
GradeReport SampleReport() {
  GradeReport report;
  report.variant = "learner";
  StepResult crashed = HtmlStep(4, "Step4_Softmax", StepStatus::kCrashed, 1, 3);
  crashed.tests[1].outcome = TestOutcome::kNotRun;
  crashed.tests[1].failures.clear();
  crashed.tests[2].outcome = TestOutcome::kNotRun;
  crashed.tests[2].failures.clear();
  crashed.detail = "crashed in Step 4 (SIGSEGV)";
  crashed.unfinished_test = "Step4_Softmax.Test1";
  crashed.output = "[ RUN      ] Step4_Softmax.Test1\nSegmentation fault";
  report.katas.push_back(
      Kata("02_attention", {HtmlStep(1, "Step1_Project", StepStatus::kPassing, 4, 4),
                            HtmlStep(2, "Step2_Scores", StepStatus::kFailing, 3, 4),
                            HtmlStep(3, "Step3_Scale", StepStatus::kTodo, 0, 2), crashed}));
  report.katas.push_back(
      Kata("03_scaling", {HtmlStep(1, "Step1_Variance", StepStatus::kPassing, 2, 2),
                          HtmlStep(2, "Step2_Entropy", StepStatus::kFailing, 1, 3)}));
  return report;
}

// The (fill width, "passed/total") of every progress bar, in page order.
std::vector<std::pair<std::string, std::string>> ProgressBars(const std::string& html) {
  static const std::regex kBar(
      R"re(<div class="progress s-[a-z_]+"><div class="bar"><span class="fill" )re"
      R"re(style="width:([0-9.]+%)"></span></div><span class="count">([0-9]+/[0-9]+)</span>)re");
  std::vector<std::pair<std::string, std::string>> bars;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kBar); it != std::sregex_iterator();
       ++it) {
    bars.emplace_back((*it)[1].str(), (*it)[2].str());
  }
  return bars;
}

TEST(HtmlReport, IsSelfContained) {
  const std::string html = HtmlReport(SampleReport());
  EXPECT_THAT(html, HasSubstr("<style>"));
  for (const char* external : {"http://", "https://", "src=", "href=", "<link", "<script",
                               "@import", "url(", "<iframe", "<object", "<img"}) {
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  }
}

TEST(HtmlReport, IsWellFormedAndUsesOnlyItsOwnElements) {
  for (const GradeReport& report : {SampleReport(), GradeReport{}}) {
    const std::string html = HtmlReport(report);
    std::set<std::string> elements;
    EXPECT_EQ(CheckWellFormed(html, elements), "") << html;
    EXPECT_THAT(elements, IsSubsetOf(kEmittedElements));
    EXPECT_TRUE(elements.count("table") > 0 || report.katas.empty());
  }
}

TEST(HtmlReport, CheckerRejectsBrokenMarkup) {
  EXPECT_EQ(CheckWellFormed("<!doctype html><html><body></body></html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html><div><span></div></span></html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html><div></html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html>a < b</html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html>R&D</html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html><p class=x>a</p></html>"), "");
  EXPECT_NE(CheckWellFormed("<!doctype html><html><style>a</style><b></html>"), "");
  EXPECT_NE(CheckWellFormed("<html></html>"), "");
  EXPECT_FALSE(IsCleanUtf8("a\xff"));
  EXPECT_FALSE(IsCleanUtf8("a\x01"));
  EXPECT_TRUE(IsCleanUtf8("Q\xc2\xb7K\xe1\xb5\x80 \xe2\x9c\x93\n"));
}

TEST(HtmlReport, HostileOutputIsInert) {
  GradeReport report = SampleReport();
  report.has_assignment = true;
  report.assignment_title = kHostile;
  report.assignment_file = kHostile;
  report.digests_file = kHostile;
  KataResult& kata = report.katas[0];
  kata.title = kHostile;
  kata.steps[1].title = kHostile;
  kata.steps[1].detail = kHostile;
  kata.steps[1].tests[3].name = "Step2_Scores." + kHostile;
  kata.steps[1].tests[3].failures = {"a.cc:3\n" + kHostile};
  kata.steps[2].tests[0].name = "Step3_Scale." + kHostile;
  kata.steps[3].output = kHostile;
  kata.steps[3].unfinished_test = kHostile;
  kata.files = {{kHostile, "ab", "cd", FileState::kChanged}};
  ThresholdResult perf;
  perf.threshold.what = kHostile;
  perf.threshold.benchmark = kHostile;
  perf.threshold.counter = kHostile;
  perf.threshold.min = 1;
  perf.detail = kHostile;
  kata.performance = {perf};
  kata.performance_problem = kHostile;
  KataResult broken = Kata("04_causal_mask", {});
  broken.problem = KataProblem::kDoesNotCompile;
  broken.problem_detail = kHostile;
  broken.problem_output = "mask.cc:1:1: error: " + kHostile;
  report.katas.push_back(broken);

  const std::string html = HtmlReport(report);
  std::set<std::string> elements;
  EXPECT_EQ(CheckWellFormed(html, elements), "");
  EXPECT_THAT(elements, IsSubsetOf(kEmittedElements));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  EXPECT_TRUE(IsCleanUtf8(html));
  EXPECT_THAT(html, HasSubstr(kHostileEscaped));
  EXPECT_THAT(html, HasSubstr("\xef\xbf\xbd"));  // U+FFFD where the invalid bytes were
  // Every place it was put shows it: titles, failure, output, file, threshold, problem.
  std::size_t shown = 0;
  for (std::size_t at = html.find(kHostileEscaped); at != std::string::npos;
       at = html.find(kHostileEscaped, at + 1)) {
    ++shown;
  }
  EXPECT_GE(shown, 12u);
}

TEST(HtmlReport, ProgressBarWidthsFollowTheCounts) {
  const std::string html = HtmlReport(SampleReport());
  EXPECT_THAT(ProgressBars(html),
              ElementsAre(Pair("100%", "4/4"), Pair("75%", "3/4"), Pair("0%", "0/2"),
                          Pair("33.3%", "1/3"), Pair("100%", "2/2"), Pair("33.3%", "1/3")));
  // A step's bar carries the colour of its status.
  EXPECT_THAT(html, HasSubstr(R"(<div class="progress s-failing"><div class="bar"><span )"
                              R"(class="fill" style="width:75%">)"));
  EXPECT_THAT(html, HasSubstr(R"(<div class="progress s-crashed">)"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="chip s-todo">todo</span>)"));
}

TEST(HtmlReport, StepWithoutTestsHasAnEmptyBar) {
  GradeReport report;
  report.katas.push_back(
      Kata("05_backprop", {HtmlStep(1, "Step1_Chain", StepStatus::kNoTests, 0, 0)}));
  EXPECT_THAT(ProgressBars(HtmlReport(report)), ElementsAre(Pair("0%", "0/0")));
}

// The gauge of the threshold whose "what" is `what`: its fill and marker styles.
std::string Gauge(const std::string& html, const std::string& what) {
  const std::size_t at = html.find(what + "<br>");
  if (at == std::string::npos) return "(no threshold " + what + ")";
  const std::size_t start = html.find(R"(<div class="gauge">)", at);
  const std::size_t end = html.find("</div>", start);
  return html.substr(start, end - start);
}

// A threshold: a speedup when `counter` is empty, else a bound on the counter.
ThresholdResult Threshold(std::string what, std::string counter, std::optional<double> min,
                          std::optional<double> max, std::optional<double> measured, bool passed) {
  ThresholdResult result;
  result.threshold.what = what;
  result.threshold.benchmark = "BM_" + what;
  if (counter.empty()) {
    result.threshold.baseline = "BM_Naive";
    result.threshold.min_speedup = min;
  } else {
    result.threshold.counter = counter;
    result.threshold.min = min;
    result.threshold.max = max;
  }
  result.measured = measured;
  result.passed = passed;
  if (!measured) result.detail = result.threshold.benchmark + " did not run";
  return result;
}

TEST(HtmlReport, ThresholdMarkerSitsAtTheThreshold) {
  GradeReport report = SampleReport();
  // Needs 2x, measured 1x: the threshold is the larger value, drawn at 80%.
  const ThresholdResult slow = Threshold("slow", "", 2.0, std::nullopt, 1.0, false);
  // Needs 1.5x, measured 3x: the measurement at 80%, the marker at 40%.
  const ThresholdResult fast = Threshold("fast", "", 1.5, std::nullopt, 3.0, true);
  // At most 10 MB, measured 4 MB.
  const ThresholdResult bounded = Threshold("bounded", "MB", std::nullopt, 10.0, 4.0, true);
  // No measurement: only the marker.
  const ThresholdResult missing =
      Threshold("missing", "GFLOP/s", 5.0, std::nullopt, std::nullopt, false);
  report.katas[0].performance = {slow, fast, bounded, missing};
  report.katas[0].performance_run = true;

  const std::string html = HtmlReport(report);
  EXPECT_EQ(Gauge(html, "slow"), R"(<div class="gauge"><span class="fill unmet" )"
                                 R"(style="width:40%"></span><span class="marker" )"
                                 R"(style="left:80%"></span>)");
  EXPECT_EQ(Gauge(html, "fast"), R"(<div class="gauge"><span class="fill met" )"
                                 R"(style="width:80%"></span><span class="marker" )"
                                 R"(style="left:40%"></span>)");
  EXPECT_EQ(Gauge(html, "bounded"), R"(<div class="gauge"><span class="fill met" )"
                                    R"(style="width:32%"></span><span class="marker" )"
                                    R"(style="left:80%"></span>)");
  EXPECT_EQ(Gauge(html, "missing"),
            R"(<div class="gauge"><span class="marker" style="left:80%"></span>)");
  // The numbers are written too.
  EXPECT_THAT(html, HasSubstr("measured <b>1&times;</b> &middot; needs &ge; 2&times;"));
  EXPECT_THAT(html, HasSubstr("measured <b>4 MB</b> &middot; needs &le; 10 MB"));
  EXPECT_THAT(html, HasSubstr("BM_missing did not run"));
  EXPECT_THAT(html, HasSubstr("2/4 met"));
  EXPECT_EQ(CheckWellFormed(html), "");
}

TEST(HtmlReport, NamesChangedAndMissingFiles) {
  GradeReport report = SampleReport();
  report.digests_file = "tests.sha256";
  report.integrity_fails = true;
  report.katas[0].files = {
      {"katas/02_attention/attention_test.cc", std::string(64, 'a'), std::string(64, 'b'),
       FileState::kChanged},
      {"fixtures/02_attention/scores.json", std::string(64, 'c'), "", FileState::kMissing},
      {"katas/02_attention/kata.json", std::string(64, 'd'), std::string(64, 'd'),
       FileState::kUnchanged}};
  report.shared_files = {{"harness/support/fixture.cc", std::string(64, 'e'), std::string(64, 'f'),
                          FileState::kChanged}};

  const std::string html = HtmlReport(report);
  EXPECT_THAT(html, HasSubstr("3 published test or fixture files differ from tests.sha256"));
  EXPECT_THAT(html, HasSubstr("gives no credit"));
  EXPECT_THAT(html,
              HasSubstr(R"(changed</span> <code>katas/02_attention/attention_test.cc</code>)"));
  EXPECT_THAT(html, HasSubstr(R"(missing</span> <code>fixtures/02_attention/scores.json</code>)"));
  EXPECT_THAT(html, HasSubstr(R"(changed</span> <code>harness/support/fixture.cc</code>)"));
  EXPECT_THAT(html, HasSubstr("sha256 bbbbbbbbbbbb&hellip;, published aaaaaaaaaaaa&hellip;"));
  EXPECT_THAT(html, Not(HasSubstr("katas/02_attention/kata.json")));
  EXPECT_THAT(html, HasSubstr("tests changed"));  // on the kata's card
  EXPECT_EQ(CheckWellFormed(html), "");

  for (FileCheck& file : report.katas[0].files) file.state = FileState::kUnchanged;
  report.shared_files[0].state = FileState::kUnchanged;
  const std::string clean = HtmlReport(report);
  EXPECT_THAT(clean, HasSubstr("all 4 published test and fixture files match tests.sha256"));
  EXPECT_THAT(clean, Not(HasSubstr("Integrity warning")));
  EXPECT_THAT(clean, Not(HasSubstr("tests changed")));
}

TEST(HtmlReport, HeaderShowsStepsOrTheAssignmentScore) {
  GradeReport report = SampleReport();
  std::string html = HtmlReport(report);
  EXPECT_THAT(html, HasSubstr("<h1>Kata grade <span class=\"verdict no\">not all passing"));
  EXPECT_THAT(html, HasSubstr("2 <small>/ 6 steps passing</small>"));
  EXPECT_THAT(html, HasSubstr("--p:33.3%"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="chip s-failing">2 failing</span>)"));

  report.has_assignment = true;
  report.assignment_title = "Week 2: attention";
  report.assignment_file = "attention-week.json";
  report.score = 7.5;
  report.max_score = 10;
  report.katas[0].weight = 4;
  report.katas[0].earned = 1.5;
  report.katas[0].assigned_steps = {1, 2, 3};
  html = HtmlReport(report);
  EXPECT_THAT(html, HasSubstr("<title>Week 2: attention</title>"));
  EXPECT_THAT(html, HasSubstr("<h1>Week 2: attention <span class=\"verdict no\">"));
  EXPECT_THAT(html, HasSubstr("7.5 <small>/ 10 points</small>"));
  EXPECT_THAT(html, HasSubstr("--p:75%"));
  EXPECT_THAT(html, HasSubstr("1/3 graded steps &middot; 1.5 / 4 points"));
  EXPECT_THAT(html, HasSubstr("2/5 graded steps passing"));
  // Step 4 is not assigned: shown, marked as not graded.
  EXPECT_THAT(html, HasSubstr(R"(<tr class="ungraded"><td class="num">Step 4</td>)"));
  EXPECT_THAT(html, Not(HasSubstr(R"(<tr class="ungraded"><td class="num">Step 3</td>)")));

  report.score = 10;
  EXPECT_THAT(HtmlReport(report), HasSubstr(R"(<span class="verdict yes">full marks</span>)"));
}

TEST(HtmlReport, DetailsShowWhatDoesNotPass) {
  const std::string html = HtmlReport(SampleReport());
  const std::size_t details = html.find("<h2>What does not pass</h2>");
  ASSERT_NE(details, std::string::npos);
  const std::string tail = html.substr(details);
  EXPECT_THAT(tail, HasSubstr("<code>Step2_Scores.Test3</code> failed"));
  EXPECT_THAT(tail, HasSubstr("<pre>katas/x/x_test.cc:13\nValue differs</pre>"));
  EXPECT_THAT(tail, HasSubstr("Running <code>Step4_Softmax.Test1</code> when it ended."));
  EXPECT_THAT(tail, HasSubstr("Segmentation fault</pre>"));
  EXPECT_THAT(tail, HasSubstr("1 step is todo"));
  EXPECT_THAT(tail, HasSubstr("03_scaling &middot; Step 2"));
  // Passing steps have no details.
  EXPECT_THAT(tail, Not(HasSubstr("Step1_Project")));
}

TEST(HtmlReport, AllPassingHasNoDetails) {
  GradeReport report;
  report.variant = "solution";
  report.katas.push_back(Kata("01_bpe", {HtmlStep(1, "Step1_Count", StepStatus::kPassing, 3, 3)}));
  const std::string html = HtmlReport(report);
  EXPECT_THAT(html, HasSubstr("<span class=\"verdict yes\">all passing</span>"));
  EXPECT_THAT(html, Not(HasSubstr("What does not pass")));
  EXPECT_THAT(html, Not(HasSubstr("<h2>Performance</h2>")));
  EXPECT_EQ(CheckWellFormed(html), "");
}

}  // namespace
}  // namespace llmk::kata
