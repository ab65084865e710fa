#include "results.h"

#include <fmt/format.h>

#include <algorithm>

namespace llmk::kata {

std::string_view StatusLabel(StepStatus status) {
  switch (status) {
    case StepStatus::kPassing:
      return "passing";
    case StepStatus::kTodo:
      return "todo";
    case StepStatus::kFailing:
      return "failing";
    case StepStatus::kCrashed:
      return "crashed";
    case StepStatus::kTimedOut:
      return "timed out";
    case StepStatus::kExitedEarly:
      return "exited early";
    case StepStatus::kFlooded:
      return "flooded";
    case StepStatus::kNoTests:
      return "no tests";
    case StepStatus::kNotRun:
      return "not run";
  }
  return "unknown";
}

std::string_view StatusToken(StepStatus status) {
  switch (status) {
    case StepStatus::kPassing:
      return "passing";
    case StepStatus::kTodo:
      return "todo";
    case StepStatus::kFailing:
      return "failing";
    case StepStatus::kCrashed:
      return "crashed";
    case StepStatus::kTimedOut:
      return "timed_out";
    case StepStatus::kExitedEarly:
      return "exited_early";
    case StepStatus::kFlooded:
      return "flooded";
    case StepStatus::kNoTests:
      return "no_tests";
    case StepStatus::kNotRun:
      return "not_run";
  }
  return "unknown";
}

bool IsAbnormal(StepStatus status) {
  return status == StepStatus::kCrashed || status == StepStatus::kTimedOut ||
         status == StepStatus::kExitedEarly || status == StepStatus::kFlooded;
}

std::string_view ProblemLabel(KataProblem problem) {
  switch (problem) {
    case KataProblem::kNone:
      return "";
    case KataProblem::kDoesNotCompile:
      return "does not compile";
    case KataProblem::kNoBinary:
      return "no test binary";
    case KataProblem::kCannotList:
      return "cannot list its tests";
  }
  return "unknown";
}

std::string_view ProblemToken(KataProblem problem) {
  switch (problem) {
    case KataProblem::kNone:
      return "none";
    case KataProblem::kDoesNotCompile:
      return "does_not_compile";
    case KataProblem::kNoBinary:
      return "no_binary";
    case KataProblem::kCannotList:
      return "cannot_list";
  }
  return "unknown";
}

int KataResult::PassingSteps() const {
  return static_cast<int>(
      std::count_if(steps.begin(), steps.end(), [](const StepResult& s) { return s.Passing(); }));
}

bool KataResult::RunStepsPass() const {
  if (problem != KataProblem::kNone) return false;
  bool any_run = false;
  for (const StepResult& step : steps) {
    if (step.status == StepStatus::kNotRun) continue;
    any_run = true;
    if (!step.Passing()) return false;
  }
  return any_run;
}

bool KataResult::NoneRun() const {
  return std::all_of(steps.begin(), steps.end(),
                     [](const StepResult& step) { return step.status == StepStatus::kNotRun; });
}

const StepResult* KataResult::FirstNonPassingRun() const {
  for (const StepResult& step : steps) {
    if (step.status != StepStatus::kNotRun && !step.Passing()) return &step;
  }
  return nullptr;
}

const StepResult* KataResult::FirstNonPassing() const {
  for (const StepResult& step : steps) {
    if (!step.Passing()) return &step;
  }
  return nullptr;
}

std::string KataResult::ReadmeLink(const StepResult& step) const {
  return fmt::format("{}/README.md#{}", dir, step.anchor);
}

int GradeReport::PassingSteps() const {
  int passing = 0;
  for (const KataResult& kata : katas) passing += kata.PassingSteps();
  return passing;
}

int GradeReport::StepCount() const {
  int count = 0;
  for (const KataResult& kata : katas) count += kata.StepCount();
  return count;
}

bool KataResult::PerformancePasses() const {
  if (!performance_problem.empty()) return false;
  return std::all_of(performance.begin(), performance.end(),
                     [](const ThresholdResult& t) { return t.passed; });
}

bool KataResult::Passes() const {
  if (problem != KataProblem::kNone || integrity_failed || !PerformancePasses()) return false;
  if (assigned_steps.empty()) return AllStepsPass();
  return std::all_of(assigned_steps.begin(), assigned_steps.end(), [&](int number) {
    return std::any_of(steps.begin(), steps.end(),
                       [&](const StepResult& s) { return s.number == number && s.Passing(); });
  });
}

bool GradeReport::AllPass() const {
  const bool shared_broken =
      integrity_fails &&
      std::any_of(shared_files.begin(), shared_files.end(),
                  [](const FileCheck& f) { return f.state != FileState::kUnchanged; });
  return !katas.empty() && !shared_broken &&
         std::all_of(katas.begin(), katas.end(), [](const KataResult& k) { return k.Passes(); });
}

std::string_view FileStateToken(FileState state) {
  switch (state) {
    case FileState::kUnchanged:
      return "unchanged";
    case FileState::kChanged:
      return "changed";
    case FileState::kMissing:
      return "missing";
  }
  return "unknown";
}

bool KataResult::IntegrityBroken() const {
  return std::any_of(files.begin(), files.end(),
                     [](const FileCheck& file) { return file.state != FileState::kUnchanged; });
}

}  // namespace llmk::kata
