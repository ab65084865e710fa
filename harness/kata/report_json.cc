#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

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

json OptionalNumber(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

// "min_speedup 1.5", "counter GFLOP/s >= 5, <= 9": what a threshold requires.
std::string Required(const PerformanceThreshold& t) {
  if (t.min_speedup) return fmt::format(">= {}x", *t.min_speedup);
  std::string bound;
  if (t.min) bound += fmt::format(">= {}", *t.min);
  if (t.max) bound += fmt::format("{}<= {}", bound.empty() ? "" : ", ", *t.max);
  return bound;
}

json ThresholdJson(const ThresholdResult& r) {
  const PerformanceThreshold& t = r.threshold;
  return {{"what", CleanText(t.what)},
          {"benchmark", CleanText(t.benchmark)},
          {"baseline", CleanText(t.baseline)},
          {"counter", CleanText(t.counter)},
          {"time", t.cpu_time ? "cpu" : "real"},
          {"measured", OptionalNumber(r.measured)},
          {"required", Required(t)},
          {"min_speedup", OptionalNumber(t.min_speedup)},
          {"min", OptionalNumber(t.min)},
          {"max", OptionalNumber(t.max)},
          {"passed", r.passed},
          {"weight", t.weight},
          {"detail", CleanText(r.detail)}};
}

json FilesJson(const std::vector<FileCheck>& files) {
  json out = json::array();
  for (const FileCheck& file : files) {
    out.push_back({{"path", CleanText(file.path)},
                   {"sha256", file.actual_sha256},
                   {"expected_sha256", file.expected_sha256},
                   {"state", FileStateToken(file.state)}});
  }
  return out;
}

json KataJson(const KataResult& kata, const GradeReport& report) {
  json steps = json::array();
  for (const StepResult& step : kata.steps) steps.push_back(StepJson(kata, step));
  json performance = json::array();
  for (const ThresholdResult& r : kata.performance) performance.push_back(ThresholdJson(r));
  return {{"name", kata.name},
          {"title", kata.title},
          {"dir", kata.dir},
          {"passed", kata.Passes()},
          {"problem", ProblemToken(kata.problem)},
          {"problem_detail", CleanText(kata.problem_detail)},
          {"problem_output", CleanText(kata.problem_output)},
          {"score", {{"passing_steps", kata.PassingSteps()}, {"steps", kata.StepCount()}}},
          {"assigned_steps", kata.assigned_steps},
          {"weight", kata.weight},
          {"earned", kata.earned},
          {"performance_run", kata.performance_run},
          {"performance_problem", CleanText(kata.performance_problem)},
          {"performance_weight", kata.performance_weight},
          {"performance_earned", kata.performance_earned},
          {"performance", performance},
          {"integrity",
           {{"checked", !report.digests_file.empty()},
            {"broken", kata.IntegrityBroken()},
            {"failed", kata.integrity_failed},
            {"files", FilesJson(kata.files)}}},
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
  for (const KataResult& kata : report.katas) katas.push_back(KataJson(kata, report));
  json assignment = nullptr;
  if (report.has_assignment) {
    assignment = {{"title", CleanText(report.assignment_title)},
                  {"file", CleanText(report.assignment_file)},
                  {"integrity", report.integrity_fails ? "fail" : "report"},
                  {"score", report.score},
                  {"max_score", report.max_score}};
  }
  const json document = {
      {"schema", "llmk-kata-grade/1"},
      {"variant", report.variant},
      {"passed", report.AllPass()},
      {"score", {{"passing_steps", report.PassingSteps()}, {"steps", report.StepCount()}}},
      {"assignment", assignment},
      {"integrity",
       {{"checked", !report.digests_file.empty()},
        {"digests", CleanText(report.digests_file)},
        {"shared_files", FilesJson(report.shared_files)}}},
      {"katas", katas}};
  // Texts were cleaned above; `replace` guards any string that was not.
  return document.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace) + "\n";
}

}  // namespace llmk::kata
