#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "reports.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

struct Counts {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  double seconds = 0;

  void Add(const Counts& other) {
    tests += other.tests;
    failures += other.failures;
    errors += other.errors;
    skipped += other.skipped;
    seconds += other.seconds;
  }
};

std::string FirstLine(std::string_view text) {
  const std::string_view trimmed = Trim(text);
  return std::string(trimmed.substr(0, trimmed.find('\n')));
}

// The first line of a failure that says what went wrong: gtest starts with
// the location ("file.cc:12" or "unknown file"), the message follows.
std::string FailureGist(std::string_view failure) {
  const std::string_view trimmed = Trim(failure);
  const std::size_t newline = trimmed.find('\n');
  if (newline == std::string_view::npos) return std::string(trimmed);
  const std::string_view first = trimmed.substr(0, newline);
  const std::size_t colon = first.rfind(':');
  const bool location =
      first == "unknown file" ||
      (colon != std::string_view::npos && colon + 1 < first.size() &&
       first.find_first_not_of("0123456789", colon + 1) == std::string_view::npos);
  return location ? FirstLine(trimmed.substr(newline + 1)) : std::string(first);
}

// <testcase> with what is inside it; updates `counts`.
std::string Testcase(std::string_view classname, std::string_view name, double seconds,
                     std::string_view inner, Counts& counts) {
  ++counts.tests;
  counts.seconds += seconds;
  std::string xml = fmt::format(R"(    <testcase classname="{}" name="{}" time="{:.3f}")",
                                XmlEscape(classname), XmlEscape(name), seconds);
  if (inner.empty()) return xml + "/>\n";
  return xml + ">\n" + std::string(inner) + "    </testcase>\n";
}

std::string Element(std::string_view tag, std::string_view type, std::string_view message,
                    std::string_view body) {
  return fmt::format("      <{0} type=\"{1}\" message=\"{2}\">{3}</{0}>\n", tag, XmlEscape(type),
                     XmlEscape(FirstLine(message)), XmlEscape(body));
}

std::string StepTestcases(const KataResult& kata, const StepResult& step, Counts& counts) {
  const std::string classname = kata.name + "." + step.suite;
  std::string xml;
  if (step.status == StepStatus::kNotRun) {
    ++counts.skipped;
    return Testcase(classname, fmt::format("Step {} (not run)", step.number), 0,
                    "      <skipped message=\"not run\"/>\n", counts);
  }
  if (step.tests.empty() || step.status == StepStatus::kNoTests) {
    ++counts.failures;
    return Testcase(classname, fmt::format("Step {} (no tests)", step.number), 0,
                    Element("failure", "no_tests", step.detail, step.detail), counts);
  }
  const bool abnormal = IsAbnormal(step.status);
  bool error_reported = false;
  for (const TestResult& test : step.tests) {
    const std::string name(test.name.substr(test.name.find('.') + 1));
    std::string inner;
    switch (test.outcome) {
      case TestOutcome::kPassed:
        break;
      case TestOutcome::kTodo:
      case TestOutcome::kFailed: {
        std::string body;
        for (const std::string& failure : test.failures) body += CleanText(failure) + "\n";
        inner = Element("failure", OutcomeToken(test.outcome),
                        test.failures.empty() ? "" : FailureGist(test.failures.front()), body);
        ++counts.failures;
        break;
      }
      case TestOutcome::kSkipped:
        inner = "      <skipped/>\n";
        ++counts.skipped;
        break;
      case TestOutcome::kNotRun:
        // The test the binary died in carries the error; the rest did not run.
        if (abnormal && !error_reported &&
            (step.unfinished_test.empty() || step.unfinished_test == test.name)) {
          inner = Element("error", StatusToken(step.status), step.detail,
                          step.detail + "\n" + step.output);
          error_reported = true;
          ++counts.errors;
        } else {
          inner = fmt::format("      <skipped message=\"{}\"/>\n",
                              XmlEscape("not run: " + step.detail));
          ++counts.skipped;
        }
        break;
    }
    xml += Testcase(classname, name, test.seconds, inner, counts);
  }
  if (abnormal && !error_reported) {
    ++counts.errors;
    xml += Testcase(
        classname, fmt::format("Step {}", step.number), step.seconds,
        Element("error", StatusToken(step.status), step.detail, step.detail + "\n" + step.output),
        counts);
  }
  return xml;
}

// One <testcase> per threshold, a <failure> when it is not met; a benchmark
// that gave no results is an <error>.
std::string PerformanceTestcases(const KataResult& kata, Counts& counts) {
  const std::string classname = kata.name + ".performance";
  std::string xml;
  if (kata.performance.empty() && !kata.performance_problem.empty()) {
    ++counts.errors;
    return Testcase(
        classname, "benchmark", 0,
        Element("error", "benchmark", kata.performance_problem, kata.performance_problem), counts);
  }
  for (const ThresholdResult& r : kata.performance) {
    const std::string name = r.threshold.what.empty() ? r.threshold.benchmark : r.threshold.what;
    std::string inner;
    if (!r.passed) {
      ++counts.failures;
      inner =
          Element("failure", r.measured ? "not_met" : "not_measured", r.detail,
                  fmt::format("{}\nbenchmark: {}\n{}", r.detail, r.threshold.benchmark,
                              r.threshold.baseline.empty() ? "counter: " + r.threshold.counter
                                                           : "baseline: " + r.threshold.baseline));
    }
    xml += Testcase(classname, name, 0, inner, counts);
  }
  return xml;
}

// One <testcase> per changed or missing published file, each a <failure>.
std::string IntegrityTestcases(const std::string& classname, const std::vector<FileCheck>& files,
                               Counts& counts) {
  std::string xml;
  for (const FileCheck& file : files) {
    if (file.state == FileState::kUnchanged) continue;
    ++counts.failures;
    const std::string message = fmt::format("{} {}", file.path, FileStateToken(file.state));
    xml += Testcase(
        classname, file.path, 0,
        Element(
            "failure", FileStateToken(file.state), message,
            fmt::format("{}\nexpected sha256: {}\nactual sha256: {}", message, file.expected_sha256,
                        file.actual_sha256.empty() ? "(missing)" : file.actual_sha256)),
        counts);
  }
  return xml;
}

std::string Testsuite(std::string_view name, const Counts& counts, std::string_view body) {
  return fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
      "time=\"{:.3f}\">\n{}  </testsuite>\n",
      XmlEscape(name), counts.tests, counts.failures, counts.errors, counts.skipped, counts.seconds,
      body);
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  const std::string clean = CleanText(text);
  std::string out;
  out.reserve(clean.size());
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const char c = clean[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // U+FFFE and U+FFFF (EF BF BE/BF) are not XML characters.
        if (static_cast<std::uint8_t>(c) == 0xEF && i + 2 < clean.size() &&
            static_cast<std::uint8_t>(clean[i + 1]) == 0xBF &&
            (static_cast<std::uint8_t>(clean[i + 2]) & 0xFE) == 0xBE) {
          out += "\xEF\xBF\xBD";
          i += 2;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string JunitReport(const GradeReport& report) {
  Counts total;
  std::string suites;
  for (const KataResult& kata : report.katas) {
    if (kata.problem != KataProblem::kNone) {
      Counts counts;
      ++counts.errors;
      const std::string body =
          Testcase(kata.name, "build and list", 0,
                   Element("error", ProblemToken(kata.problem), kata.problem_detail,
                           kata.problem_detail + "\n" + kata.problem_output),
                   counts);
      suites += Testsuite(kata.name, counts, body);
      total.Add(counts);
      continue;
    }
    for (const StepResult& step : kata.steps) {
      Counts counts;
      const std::string body = StepTestcases(kata, step, counts);
      suites += Testsuite(kata.name + "." + step.suite, counts, body);
      total.Add(counts);
    }
  }
  for (const KataResult& kata : report.katas) {
    if (kata.performance_run) {
      Counts counts;
      const std::string body = PerformanceTestcases(kata, counts);
      suites += Testsuite(kata.name + ".performance", counts, body);
      total.Add(counts);
    }
    if (kata.IntegrityBroken()) {
      Counts counts;
      const std::string body = IntegrityTestcases(kata.name + ".integrity", kata.files, counts);
      suites += Testsuite(kata.name + ".integrity", counts, body);
      total.Add(counts);
    }
  }
  const bool shared_broken =
      std::any_of(report.shared_files.begin(), report.shared_files.end(),
                  [](const FileCheck& f) { return f.state != FileState::kUnchanged; });
  if (shared_broken) {
    Counts counts;
    const std::string body = IntegrityTestcases("shared.integrity", report.shared_files, counts);
    suites += Testsuite("shared.integrity", counts, body);
    total.Add(counts);
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" "
      "time=\"{:.3f}\">\n{}</testsuites>\n",
      XmlEscape("llm-katas (" + report.variant + ")"), total.tests, total.failures, total.errors,
      total.skipped, total.seconds, suites);
}

}  // namespace llmk::kata
