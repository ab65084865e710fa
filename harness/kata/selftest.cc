#include "selftest.h"

#include <fmt/format.h>

#include <charconv>
#include <regex>

#include "builder.h"
#include "child_process.h"
#include "reports.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

// The gist of a failed test: the first line of its first message ("file:line"
// comes first; the message starts on the second line).
std::string Gist(const TestResult& test) {
  for (const std::string& failure : test.failures) {
    const std::string clean = CleanText(failure);
    const std::vector<std::string_view> lines = SplitLines(clean);
    if (lines.size() > 1) return std::string(Trim(lines[1]));
    if (!lines.empty()) return std::string(Trim(lines[0]));
  }
  return std::string(OutcomeToken(test.outcome));
}

void CheckSolution(const KataResult& solution, SelftestTally& tally) {
  const std::string& kata = solution.name;
  for (const StepResult& step : solution.steps) {
    if (step.status == StepStatus::kNoTests) {
      ++tally.structure_failed;
      tally.problems.push_back(fmt::format("{}: step {} has no tests (no test in suite {})", kata,
                                           step.number, step.suite));
      continue;
    }
    if (IsAbnormal(step.status)) {
      tally.problems.push_back(fmt::format("{}: the solution {}", kata, step.detail));
    }
    for (const TestResult& test : step.tests) {
      switch (test.outcome) {
        case TestOutcome::kPassed:
          ++tally.solution_passed;
          break;
        case TestOutcome::kSkipped:
          ++tally.solution_passed;
          tally.notes.push_back(fmt::format("{}: skipped on the solution: {}", kata, test.name));
          break;
        case TestOutcome::kNotRun:
          ++tally.solution_failed;
          tally.problems.push_back(fmt::format("{}: does not finish on the solution: {} ({})", kata,
                                               test.name, StatusLabel(step.status)));
          break;
        case TestOutcome::kTodo:
        case TestOutcome::kFailed:
          ++tally.solution_failed;
          tally.problems.push_back(
              fmt::format("{}: fails on the solution: {} ({})", kata, test.name, Gist(test)));
          break;
      }
    }
  }
  for (const std::string& test : solution.tests_in_no_step) {
    ++tally.structure_failed;
    tally.problems.push_back(fmt::format("{}: belongs to no step of kata.json: {}", kata, test));
  }
}

void CheckStub(const KataResult& learner, SelftestTally& tally) {
  const std::string& kata = learner.name;
  for (const StepResult& step : learner.steps) {
    if (IsAbnormal(step.status)) {
      tally.notes.push_back(fmt::format(
          "{}: the stub {} (a stub should throw llmk::NotImplemented)", kata, step.detail));
    }
    for (const TestResult& test : step.tests) {
      switch (test.outcome) {
        case TestOutcome::kPassed:
          ++tally.stub_passed;
          tally.problems.push_back(fmt::format("{}: passes on the stub: {}", kata, test.name));
          break;
        case TestOutcome::kSkipped:
          ++tally.stub_passed;
          tally.problems.push_back(
              fmt::format("{}: is skipped on the stub (it must fail): {}", kata, test.name));
          break;
        case TestOutcome::kTodo:
        case TestOutcome::kFailed:
        case TestOutcome::kNotRun:
          ++tally.stub_failed;
          break;
      }
    }
  }
}

// Counts a kata-level problem (does not build, cannot list) of one variant.
bool CheckProblem(const KataResult& result, std::string_view who, SelftestTally& tally) {
  if (result.problem == KataProblem::kNone) return false;
  ++tally.structure_failed;
  std::string line = fmt::format("{}: the {} {}: {}", result.name, who,
                                 ProblemLabel(result.problem), result.problem_detail);
  if (!Trim(result.problem_output).empty()) line += "\n" + Indent(result.problem_output, "    | ");
  tally.problems.push_back(std::move(line));
  return true;
}

}  // namespace

void CheckKataRule(const KataResult& solution, const KataResult& learner, SelftestTally& tally) {
  if (!CheckProblem(solution, "solution", tally)) CheckSolution(solution, tally);
  if (!CheckProblem(learner, "stub", tally)) CheckStub(learner, tally);
}

CtestSummary ParseCtestSummary(std::string_view output) {
  CtestSummary summary;
  const std::string text(output);
  static const std::regex kSummary(R"((\d+)% tests passed, (\d+) tests? failed out of (\d+))");
  std::smatch match;
  if (std::regex_search(text, match, kSummary)) {
    // Counts that do not fit an int, or more failures than tests, are not a summary.
    int failed = 0;
    int total = 0;
    const auto read = [](const std::ssub_match& digits, int& value) {
      const char* end = digits.second.base();
      const std::from_chars_result result = std::from_chars(digits.first.base(), end, value);
      return result.ec == std::errc() && result.ptr == end;
    };
    if (read(match[2], failed) && read(match[3], total) && failed <= total) {
      summary.found = true;
      summary.failed = failed;
      summary.passed = total - failed;
    }
  } else if (text.find("No tests were found") != std::string::npos) {
    summary.found = true;
  }
  return summary;
}

SelftestTally RunSelftest(const Catalog& catalog, const SelftestOptions& options,
                          const ProgressFunction& print) {
  SelftestTally tally;
  const std::string build_dir = catalog.build_dir.string();
  print(fmt::format("building everything: cmake --build {} ...", build_dir));
  const BuildResult built = BuildTargets(catalog.build_dir, {}, options.jobs);
  if (!built.ok) {
    ++tally.structure_failed;
    tally.problems.push_back("the build failed:\n" + Indent(built.errors, "    | "));
    return tally;
  }

  for (const Kata& kata : catalog.katas) {
    print(fmt::format("checking {}: the solution must pass every test, the stub fail every test",
                      kata.name));
    const KataResult solution = RunKata(kata, Variant::kSolution, options.run);
    const KataResult learner = RunKata(kata, Variant::kLearner, options.run);
    const SelftestTally before = tally;
    CheckKataRule(solution, learner, tally);
    print(fmt::format("  solution: {} passed, {} failed; stub: {} failed as required, {} passed",
                      tally.solution_passed - before.solution_passed,
                      tally.solution_failed - before.solution_failed,
                      tally.stub_failed - before.stub_failed,
                      tally.stub_passed - before.stub_passed));
  }

  print(fmt::format("running the other tests: ctest --test-dir {} -LE \"learner|solution\"",
                    build_dir));
  ChildSpec ctest;
  ctest.argv = {"ctest",
                "--test-dir",
                build_dir,
                "-LE",
                "learner|solution",
                "--output-on-failure",
                "--parallel",
                std::to_string(std::max(1, options.jobs))};
  ctest.keep_head_bytes = 1 << 20;
  const ChildOutcome outcome = RunChild(ctest);
  const std::string output = CleanText(outcome.output);
  const CtestSummary summary = ParseCtestSummary(output);
  if (!summary.found) {
    ++tally.ctest_failed;
    tally.problems.push_back(fmt::format("ctest did not report a summary ({}):\n{}",
                                         DescribeEnd(outcome),
                                         Indent(LastLines(output, 30), "    | ")));
    return tally;
  }
  tally.ctest_passed = summary.passed;
  tally.ctest_failed = summary.failed;
  print(fmt::format("  ctest: {} passed, {} failed", summary.passed, summary.failed));
  if (summary.failed > 0) {
    tally.problems.push_back("ctest: some tests failed:\n" +
                             Indent(FirstLines(output, 200), "    | "));
  }
  return tally;
}

}  // namespace llmk::kata
