#include <fmt/format.h>

#include <algorithm>

#include "reports.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

std::string_view StatusIcon(StepStatus status) {
  switch (status) {
    case StepStatus::kPassing:
      return "✅";
    case StepStatus::kTodo:
      return "📝";
    case StepStatus::kFailing:
      return "❌";
    case StepStatus::kCrashed:
      return "💥";
    case StepStatus::kTimedOut:
      return "⏱️";
    case StepStatus::kExitedEarly:
      return "🚪";
    case StepStatus::kFlooded:
      return "🌊";
    case StepStatus::kNoTests:
      return "❔";
    case StepStatus::kNotRun:
      return "➖";
  }
  return "";
}

// Text safe in one table cell: one line, no column break, no HTML.
std::string Cell(std::string_view text) {
  std::string out;
  for (const char c : CleanText(text)) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '\n':
        out += ' ';
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// A fenced code block around `text`, its fence longer than any run of
// backticks inside.
std::string Fenced(std::string_view text) {
  const std::string clean = CleanText(text);
  std::size_t longest = 0;
  std::size_t run = 0;
  for (const char c : clean) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  return fmt::format("{}text\n{}\n{}\n", fence, TrimRight(clean), fence);
}

std::string StepSection(const KataResult& kata, const StepResult& step) {
  std::string out = fmt::format("### {}, step {}: {} ({})\n\n", Cell(kata.name), step.number,
                                Cell(step.title), StatusLabel(step.status));
  if (!step.detail.empty()) out += Cell(step.detail) + "\n\n";
  if (IsAbnormal(step.status)) {
    if (!step.unfinished_test.empty()) {
      out += fmt::format("Running `{}` when it ended.\n\n", Cell(step.unfinished_test));
    }
    if (!Trim(step.output).empty()) out += Fenced(step.output) + "\n";
    return out;
  }
  for (const TestResult& test : step.tests) {
    if (test.outcome != TestOutcome::kFailed && test.outcome != TestOutcome::kTodo) continue;
    out += fmt::format("- `{}` ({})\n\n", Cell(test.name), OutcomeToken(test.outcome));
    std::string failures;
    for (const std::string& failure : test.failures) failures += failure + "\n";
    out += Fenced(FirstLines(failures, 40)) + "\n";
  }
  return out;
}

}  // namespace

std::string MarkdownReport(const GradeReport& report) {
  std::string out =
      fmt::format("# Kata grade ({}): {}/{} steps passing {}\n\n", Cell(report.variant),
                  report.PassingSteps(), report.StepCount(), report.AllPass() ? "✅" : "❌");
  out += "| Kata | Step | Title | Status | Detail |\n";
  out += "| --- | ---: | --- | --- | --- |\n";
  for (const KataResult& kata : report.katas) {
    if (kata.problem != KataProblem::kNone) {
      out += fmt::format("| {} | | {} | 💥 {} | {} |\n", Cell(kata.name), Cell(kata.title),
                         ProblemLabel(kata.problem), Cell(kata.problem_detail));
      continue;
    }
    for (const StepResult& step : kata.steps) {
      out += fmt::format("| {} | {} | {} | {} {} | {} |\n", Cell(kata.name), step.number,
                         Cell(step.title), StatusIcon(step.status), StatusLabel(step.status),
                         step.Passing() ? "" : Cell(step.detail));
    }
  }

  std::string details;
  for (const KataResult& kata : report.katas) {
    if (kata.problem != KataProblem::kNone) {
      details += fmt::format("### {}: {}\n\n{}\n\n", Cell(kata.name), ProblemLabel(kata.problem),
                             Cell(kata.problem_detail));
      if (!Trim(kata.problem_output).empty()) details += Fenced(kata.problem_output) + "\n";
      continue;
    }
    for (const StepResult& step : kata.steps) {
      if (!step.Passing() && step.status != StepStatus::kNotRun) {
        details += StepSection(kata, step);
      }
    }
  }
  if (!details.empty()) out += "\n## What does not pass\n\n" + details;
  return out;
}

}  // namespace llmk::kata
