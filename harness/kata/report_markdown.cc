#include <fmt/format.h>

#include <algorithm>

#include "board.h"
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

// "7.5", "10", "0.67".
std::string Points(double points) { return FormatPoints(points); }

// The assignment's score per kata, the performance table and the integrity
// section; empty when the grade has none of them.
std::string GradeSections(const GradeReport& report) {
  std::string out;
  if (report.has_assignment) {
    out +=
        "\n## Score\n\n| Kata | Steps graded | Weight | Earned | Performance weight | "
        "Performance earned |\n| --- | --- | ---: | ---: | ---: | ---: |\n";
    for (const KataResult& kata : report.katas) {
      std::string steps = "all";
      if (!kata.assigned_steps.empty()) {
        steps.clear();
        for (int step : kata.assigned_steps) {
          steps += fmt::format("{}{}", steps.empty() ? "" : ", ", step);
        }
      }
      out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", Cell(kata.name), steps,
                         Points(kata.weight), Points(kata.earned), Points(kata.performance_weight),
                         Points(kata.performance_earned));
    }
  }
  std::string performance;
  for (const KataResult& kata : report.katas) {
    if (!kata.performance_run) continue;
    if (kata.performance.empty() && !kata.performance_problem.empty()) {
      performance +=
          fmt::format("| {} | | | | 💥 {} | |\n", Cell(kata.name), Cell(kata.performance_problem));
    }
    for (const ThresholdResult& r : kata.performance) {
      const PerformanceThreshold& t = r.threshold;
      const std::string required =
          t.min_speedup
              ? fmt::format(">= {}x", *t.min_speedup)
              : fmt::format("{}{}{}", t.min ? fmt::format(">= {}", *t.min) : "",
                            t.min && t.max ? ", " : "", t.max ? fmt::format("<= {}", *t.max) : "");
      performance += fmt::format(
          "| {} | {} | {} | {} | {} {} | {} |\n", Cell(kata.name),
          Cell(t.what.empty() ? t.benchmark : t.what),
          r.measured ? fmt::format("{:.4g}{}", *r.measured, t.min_speedup ? "x" : "") : "",
          Cell(required), r.passed ? "✅ met" : "❌ not met", Cell(r.detail), Points(t.weight));
    }
  }
  if (!performance.empty()) {
    out +=
        "\n## Performance\n\n| Kata | Threshold | Measured | Required | Result | Weight |\n"
        "| --- | --- | ---: | --- | --- | ---: |\n" +
        performance;
  }
  if (!report.digests_file.empty()) {
    std::string changed;
    auto add = [&](const std::vector<FileCheck>& files) {
      for (const FileCheck& file : files) {
        if (file.state == FileState::kUnchanged) continue;
        changed += fmt::format("- `{}` {}\n", Cell(file.path), FileStateToken(file.state));
      }
    };
    add(report.shared_files);
    for (const KataResult& kata : report.katas) add(kata.files);
    out += fmt::format("\n## Integrity\n\nChecked against `{}`: ", Cell(report.digests_file));
    if (changed.empty()) {
      out += "every published test file and fixture is unchanged.\n";
    } else {
      out += report.integrity_fails
                 ? "these files differ, and the assignment fails a kata that changes them.\n\n"
                 : "these files differ.\n\n";
      out += changed;
    }
  } else if (report.has_assignment) {
    out += "\n## Integrity\n\nNot checked (no digests).\n";
  }
  return out;
}

std::string MarkdownReport(const GradeReport& report) {
  std::string out;
  if (report.has_assignment) {
    out +=
        fmt::format("# {}: {}/{} {}\n\n",
                    Cell(report.assignment_title.empty() ? "Assignment" : report.assignment_title),
                    Points(report.score), Points(report.max_score), report.AllPass() ? "✅" : "❌");
  }
  out += fmt::format("# Kata grade ({}): {}/{} steps passing {}\n\n", Cell(report.variant),
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

  out += GradeSections(report);

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
