#include <nlohmann/json.hpp>

#include "reports.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

using nlohmann::json;

json TestJson(const TestResult& test) {
  json failures = json::array();
  for (const std::string& failure : test.failures) failures.push_back(CleanText(failure));
  return {{"name", CleanText(test.name)},
          {"outcome", OutcomeToken(test.outcome)},
          {"seconds", test.seconds},
          {"failures", failures}};
}

json StepJson(const KataResult& kata, const StepResult& step) {
  json tests = json::array();
  for (const TestResult& test : step.tests) tests.push_back(TestJson(test));
  return {{"number", step.number},
          {"suite", step.suite},
          {"title", step.title},
          {"readme", kata.ReadmeLink(step)},
          {"status", StatusToken(step.status)},
          {"detail", CleanText(step.detail)},
          {"unfinished_test", CleanText(step.unfinished_test)},
          {"output", CleanText(step.output)},
          {"seconds", step.seconds},
          {"tests", tests}};
}

json KataJson(const KataResult& kata) {
  json steps = json::array();
  for (const StepResult& step : kata.steps) steps.push_back(StepJson(kata, step));
  return {{"name", kata.name},
          {"title", kata.title},
          {"dir", kata.dir},
          {"passed", kata.problem == KataProblem::kNone && kata.AllStepsPass()},
          {"problem", ProblemToken(kata.problem)},
          {"problem_detail", CleanText(kata.problem_detail)},
          {"problem_output", CleanText(kata.problem_output)},
          {"score", {{"passing_steps", kata.PassingSteps()}, {"steps", kata.StepCount()}}},
          {"steps", steps}};
}

}  // namespace

std::string_view OutcomeToken(TestOutcome outcome) {
  switch (outcome) {
    case TestOutcome::kPassed:
      return "passed";
    case TestOutcome::kTodo:
      return "todo";
    case TestOutcome::kFailed:
      return "failed";
    case TestOutcome::kSkipped:
      return "skipped";
    case TestOutcome::kNotRun:
      return "not_run";
  }
  return "unknown";
}

std::string JsonReport(const GradeReport& report) {
  json katas = json::array();
  for (const KataResult& kata : report.katas) katas.push_back(KataJson(kata));
  const json document = {
      {"schema", "llmk-kata-grade/1"},
      {"variant", report.variant},
      {"passed", report.AllPass()},
      {"score", {{"passing_steps", report.PassingSteps()}, {"steps", report.StepCount()}}},
      {"katas", katas}};
  // Texts were cleaned above; `replace` guards any string that was not.
  return document.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace) + "\n";
}

}  // namespace llmk::kata
