#include "board.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "text_util.h"

namespace llmk::kata {
namespace {

constexpr std::size_t kStatusWidth = 14;   // "exited early" and a gap
constexpr std::size_t kHeaderWidth = 72;   // the kata header line
constexpr std::size_t kShownFailures = 5;  // tests shown with their messages
constexpr std::size_t kFailureLines = 60;
constexpr std::size_t kFailureChars = 6000;

bool ShowsDetail(StepStatus status) {
  return status != StepStatus::kPassing && status != StepStatus::kTodo &&
         status != StepStatus::kNotRun;
}

std::string StepLine(const StepResult& step, const Style& style) {
  std::string line = fmt::format("  {}Step {}  {}", style.Status(step.status, kStatusWidth),
                                 step.number, step.title);
  if (ShowsDetail(step.status) && !step.detail.empty()) line += ": " + step.detail;
  return line + "\n";
}

// What a todo test reached, out of its NotImplemented failure: "Scores is not
// implemented yet (this stub is yours to write)".
std::string StubMessage(const TestResult& test) {
  constexpr std::string_view kNotYet = " is not implemented yet";
  for (const std::string& failure : test.failures) {
    const std::size_t at = failure.find(kNotImplementedMarker);
    if (at == std::string::npos) continue;
    const std::size_t start = at + kNotImplementedMarker.size();
    // llmk::NotImplemented's message is "<function> is not implemented yet (...)".
    const std::size_t not_yet = failure.find(kNotYet, start);
    const std::size_t line_end = failure.find('\n', start);
    if (not_yet != std::string::npos && not_yet < line_end) {
      return failure.substr(start, not_yet - start) +
             " is not implemented yet (this stub is yours to write)";
    }
    return failure.substr(start, line_end == std::string::npos ? line_end : line_end - start);
  }
  return "a stub that is not written yet";
}

// Names joined by ", ", wrapped at about kWrapColumn, each line after the first
// indented by `indent`.
std::string WrappedList(const std::vector<std::string>& names, std::string_view indent) {
  constexpr std::size_t kWrapColumn = 88;
  std::string out;
  std::size_t column = indent.size();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string item = names[i] + (i + 1 < names.size() ? "," : "");
    if (column > indent.size() && column + 1 + item.size() > kWrapColumn) {
      out += "\n" + std::string(indent);
      column = indent.size();
    } else if (column > indent.size()) {
      out += ' ';
      ++column;
    }
    out += item;
    column += item.size();
  }
  return out;
}

std::string FailureText(const TestResult& test) {
  std::string text;
  for (const std::string& failure : test.failures) {
    text += FirstLines(CleanText(failure), kFailureLines, kFailureChars);
    if (failure.find("std::bad_alloc") != std::string::npos) {
      text +=
          "(std::bad_alloc: it may have run out of memory; the harness limits a test "
          "binary's address space, see --memory_limit_mb)\n";
    }
  }
  return text;
}

std::string TestDetails(const StepResult& step, const Style& style) {
  std::string out;
  std::size_t shown = 0;
  std::vector<std::string> not_shown;
  for (const TestResult& test : step.tests) {
    if (test.outcome == TestOutcome::kFailed) {
      if (shown++ < kShownFailures) {
        out += fmt::format("  {} {}\n", style.Red("FAILED"), test.name);
        out += Indent(FailureText(test), "      ");
      } else {
        not_shown.push_back(test.name);
      }
    }
  }
  // Todo tests, grouped by the stub they reach: one line per stub.
  std::vector<std::pair<std::string, std::vector<std::string>>> stubs;
  for (const TestResult& test : step.tests) {
    if (test.outcome != TestOutcome::kTodo) continue;
    const std::string stub = StubMessage(test);
    auto it = std::find_if(stubs.begin(), stubs.end(),
                           [&](const auto& entry) { return entry.first == stub; });
    if (it == stubs.end()) it = stubs.insert(stubs.end(), {stub, {}});
    it->second.push_back(test.name);
  }
  for (const auto& [stub, tests] : stubs) {
    out += fmt::format("  {}   {}\n         reached by {}\n", style.Status(StepStatus::kTodo), stub,
                       WrappedList(tests, "           "));
  }
  if (!not_shown.empty()) {
    out += fmt::format("  ... and {} more failing tests:", not_shown.size());
    for (const std::string& name : not_shown) out += " " + name;
    out += "\n";
  }
  return out;
}

std::string AbnormalDetails(const StepResult& step) {
  std::string out = fmt::format("  The test binary {}.\n", step.detail);
  if (!step.unfinished_test.empty()) {
    out += fmt::format("  It was running {}.\n", step.unfinished_test);
  }
  const auto passed = std::count_if(step.tests.begin(), step.tests.end(), [](const TestResult& t) {
    return t.outcome == TestOutcome::kPassed;
  });
  if (passed > 0) out += fmt::format("  {} of its tests had passed before.\n", passed);
  if (!Trim(step.output).empty()) {
    out += step.status == StepStatus::kFlooded ? "  The start of its output:\n"
                                               : "  The end of its output:\n";
    out += Indent(step.output, "    | ");
  }
  return out;
}

}  // namespace

std::string RenderKata(const KataResult& kata, const Style& style, bool only_run_steps) {
  const std::string heading = fmt::format("{}  {}", kata.name, kata.title);
  const std::string score = fmt::format("{}/{}", kata.PassingSteps(), kata.StepCount());
  const std::size_t used = DisplayWidth(heading) + score.size();
  std::string out = style.Bold(heading) +
                    std::string(used < kHeaderWidth ? kHeaderWidth - used : 1, ' ') + score + "\n";
  if (!kata.note.empty()) out += fmt::format("  {}\n", kata.note);
  if (kata.problem != KataProblem::kNone) {
    out += fmt::format("  {}: {}\n", style.Problem(kata.problem), kata.problem_detail);
    if (!Trim(kata.problem_output).empty()) out += Indent(kata.problem_output, "    | ");
    return out;
  }
  // A kata the board has no run of: its note says so, and a list of "not run" says nothing more.
  if (kata.NoneRun() && !kata.note.empty()) return out;
  for (const StepResult& step : kata.steps) {
    if (only_run_steps && step.status == StepStatus::kNotRun) continue;
    out += StepLine(step, style);
  }
  return out;
}

std::string RenderScore(int passing, int total, const Style& style) {
  const std::string text = fmt::format("Score: {}/{} steps passing", passing, total);
  return (passing == total && total > 0 ? style.Green(text) : style.Bold(text)) + "\n";
}

std::string RenderNext(const GradeReport& report, const Style& style) {
  for (const KataResult& kata : report.katas) {
    if (kata.problem != KataProblem::kNone) {
      return fmt::format("{} {} {}: {}\n  run   ./kata test {}\n", style.Bold("Next:"), kata.name,
                         ProblemLabel(kata.problem), kata.problem_detail, kata.short_id);
    }
    // With an assignment, the steps it does not grade were not run.
    const StepResult* step =
        report.has_assignment ? kata.FirstNonPassingRun() : kata.FirstNonPassing();
    if (step != nullptr) {
      return fmt::format(
          "{} {}, step {}: {} ({})\n  run   ./kata test {}\n  read  {}\n  hint  ./kata hint {}\n",
          style.Bold("Next:"), kata.name, step->number, step->title, StatusLabel(step->status),
          kata.short_id, kata.ReadmeLink(*step), kata.short_id);
    }
  }
  if (report.katas.empty()) return "No katas found.\n";
  if (report.has_assignment) return style.Green("Every graded step passes.") + "\n";
  return style.Green(fmt::format("All {} steps pass. Well done!", report.StepCount())) + "\n";
}

std::string FormatPoints(double points) {
  std::string text = fmt::format("{:.2f}", points);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string RenderKataGrade(const KataResult& kata, const GradeReport& report, const Style& style) {
  std::string out;
  if (report.has_assignment) {
    int graded = 0;
    int passing = 0;
    for (const StepResult& step : kata.steps) {
      if (!kata.assigned_steps.empty() &&
          std::find(kata.assigned_steps.begin(), kata.assigned_steps.end(), step.number) ==
              kata.assigned_steps.end()) {
        continue;
      }
      ++graded;
      passing += step.Passing() ? 1 : 0;
    }
    out += fmt::format("  weight {}, earned {} ({} of {} {}steps pass)", FormatPoints(kata.weight),
                       FormatPoints(kata.earned), passing, graded,
                       kata.assigned_steps.empty() ? "" : "assigned ");
    if (kata.performance_weight > 0) {
      out +=
          fmt::format("; performance weight {}, earned {}", FormatPoints(kata.performance_weight),
                      FormatPoints(kata.performance_earned));
    }
    out += "\n";
  }
  if (kata.performance_run && kata.performance.empty() && !kata.performance_problem.empty()) {
    out += fmt::format("  {}{}\n", style.Red(PadRight("performance", kStatusWidth)),
                       kata.performance_problem);
  }
  for (const ThresholdResult& t : kata.performance) {
    const std::string mark = PadRight(t.passed ? "met" : "not met", kStatusWidth);
    out += fmt::format("  {}{}: {}\n", t.passed ? style.Green(mark) : style.Red(mark), t.detail,
                       t.threshold.what.empty() ? t.threshold.benchmark : t.threshold.what);
  }
  for (const FileCheck& file : kata.files) {
    if (file.state == FileState::kUnchanged) continue;
    out += fmt::format("  {}{} {}\n", style.Red(PadRight("integrity", kStatusWidth)), file.path,
                       FileStateToken(file.state));
  }
  if (kata.integrity_failed) {
    out += fmt::format("  {}a published test file is changed or missing: the kata earns nothing\n",
                       style.Red(PadRight("integrity", kStatusWidth)));
  }
  return out;
}

std::string RenderBoard(const GradeReport& report, const Style& style) {
  std::string out;
  for (const KataResult& kata : report.katas) {
    out += RenderKata(kata, style, /*only_run_steps=*/false);
    out += RenderKataGrade(kata, report, style);
    out += "\n";
  }
  bool shared_changed = false;
  for (const FileCheck& file : report.shared_files) {
    if (file.state == FileState::kUnchanged) continue;
    shared_changed = true;
    out += fmt::format("{} {}\n", file.path, FileStateToken(file.state));
  }
  if (!report.digests_file.empty()) {
    bool any_changed = shared_changed;
    for (const KataResult& kata : report.katas) any_changed = any_changed || kata.IntegrityBroken();
    out += any_changed
               ? style.Red(fmt::format("Test files: some differ from {}", report.digests_file))
               : fmt::format("Test files: unchanged (checked against {})", report.digests_file);
    out += "\n";
  } else if (report.has_assignment) {
    out += "Test files: not checked (no digests)\n";
  }
  if (report.has_assignment) {
    const std::string score = fmt::format(
        "Score: {}/{}{}", FormatPoints(report.score), FormatPoints(report.max_score),
        report.assignment_title.empty() ? std::string(" (assignment)")
                                        : fmt::format(" (assignment {})", report.assignment_title));
    out += (report.AllPass() ? style.Green(score) : style.Bold(score)) + "\n";
  }
  out += RenderScore(report.PassingSteps(), report.StepCount(), style);
  out += "\n";
  out += RenderNext(report, style);
  return out;
}

std::string RenderStepDetails(const KataResult& kata, const StepResult& step, const Style& style) {
  std::string out =
      fmt::format("{}: {}", style.Bold(fmt::format("Step {}: {}", step.number, step.title)),
                  style.Status(step.status));
  // An abnormal end is explained below; a test count fits on this line.
  if (!step.detail.empty() && !IsAbnormal(step.status)) {
    out += fmt::format(", {}", step.detail);
  }
  if (step.Passing()) return out + "\n";
  out += "\n\n";
  if (IsAbnormal(step.status)) {
    out += AbnormalDetails(step);
  } else {
    out += TestDetails(step, style);
  }
  // `kata hint 02` picks the first step that does not pass; others need --step.
  const bool first = kata.FirstNonPassing() == &step;
  out += fmt::format("\n  read  {}\n  hint  ./kata hint {}{}\n", kata.ReadmeLink(step),
                     kata.short_id, first ? "" : fmt::format(" --step {}", step.number));
  return out;
}

}  // namespace llmk::kata
