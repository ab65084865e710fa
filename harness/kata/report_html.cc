// The HTML report of `kata grade --format html`: one self-contained page (inline
// CSS, no scripts, no network) with the score, the board, the performance bars,
// the integrity warnings and the failures. Every text that came from a test
// binary or a file goes through XmlEscape (which also cleans invalid UTF-8 and
// control characters); attributes hold only numbers and fixed class names.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reports.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

constexpr std::size_t kHtmlFailureLines = 40;
constexpr std::size_t kOutputLines = 60;
constexpr std::size_t kHtmlLineChars = 400;
// In a performance bar the larger of the measured value and the threshold sits
// at this fraction of the width, so both are visible with room to spare.
constexpr double kPerfScaleFraction = 0.8;

// Light and dark palettes, print rules, and the layout of every element the
// page uses. Status colours: --c is the strong colour, --t its tint.
constexpr std::string_view kCss = R"css(
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #1d2330; --muted: #5d6675; --line: #dde1e7;
  --track: #e8ebf0; --code: #f1f3f6; --warn-bg: #fff6e0; --warn-line: #e7b53c;
  --ok-bg: #e9f7ee; --ok-line: #5cb77a;
  --passing: #1a7f37; --passing-t: #d5f0dd; --todo: #3b6fd8; --todo-t: #dde7fb;
  --failing: #cf222e; --failing-t: #fbdcdf; --crashed: #8e1537; --crashed-t: #f3d6df;
  --timed_out: #c25e00; --timed_out-t: #fbe5cf; --exited_early: #8250df;
  --exited_early-t: #ebe1fb; --flooded: #0f7c8c; --flooded-t: #d3eef2;
  --no_tests: #6e7781; --no_tests-t: #e6e8eb; --not_run: #8c959f; --not_run-t: #eceef1;
}
@media screen and (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --card: #181c24; --fg: #e3e7ee; --muted: #9aa4b2; --line: #2c333f;
    --track: #262c37; --code: #11151b; --warn-bg: #2e2511; --warn-line: #b98a1f;
    --ok-bg: #13271b; --ok-line: #2f8a4c;
    --passing: #3fb950; --passing-t: #1b3525; --todo: #6f9cf5; --todo-t: #1d2a45;
    --failing: #f85149; --failing-t: #43191c; --crashed: #ff7b9c; --crashed-t: #451a28;
    --timed_out: #f0883e; --timed_out-t: #3f2814; --exited_early: #b493f7;
    --exited_early-t: #2f2448; --flooded: #39c5cf; --flooded-t: #133539;
    --no_tests: #9aa4b2; --no_tests-t: #2a303a; --not_run: #7d8590; --not_run-t: #242a33;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 12px; }
h3 { font-size: 16px; margin: 0; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 13px; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; margin: 6px 0 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; margin: 0 0 14px; box-shadow: 0 1px 2px rgba(0, 0, 0, .06); }
.muted { color: var(--muted); }
.summary { display: flex; gap: 28px; align-items: center; }
.summary .what { flex: 1; min-width: 0; }
.ring { width: 124px; height: 124px; border-radius: 50%; flex: none; display: grid;
  place-items: center; background: conic-gradient(var(--ring) var(--p), var(--track) 0); }
.ring > div { width: 100px; height: 100px; border-radius: 50%; background: var(--card);
  display: grid; place-items: center; text-align: center; line-height: 1.1; }
.ring b { font-size: 24px; display: block; }
.ring span { font-size: 11.5px; color: var(--muted); }
.score { font-size: 40px; font-weight: 700; margin: 6px 0 2px; }
.score small { font-size: 18px; font-weight: 500; color: var(--muted); }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600;
  font-size: 13px; vertical-align: middle; }
.verdict.yes { background: var(--passing-t); color: var(--passing); }
.verdict.no { background: var(--failing-t); color: var(--failing); }
.counts { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 6px; }
.chip { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12.5px;
  font-weight: 600; white-space: nowrap; background: var(--t); color: var(--c); }
.s-passing { --c: var(--passing); --t: var(--passing-t); }
.s-todo { --c: var(--todo); --t: var(--todo-t); }
.s-failing { --c: var(--failing); --t: var(--failing-t); }
.s-crashed { --c: var(--crashed); --t: var(--crashed-t); }
.s-timed_out { --c: var(--timed_out); --t: var(--timed_out-t); }
.s-exited_early { --c: var(--exited_early); --t: var(--exited_early-t); }
.s-flooded { --c: var(--flooded); --t: var(--flooded-t); }
.s-no_tests { --c: var(--no_tests); --t: var(--no_tests-t); }
.s-not_run { --c: var(--not_run); --t: var(--not_run-t); }
.kata-head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap;
  margin-bottom: 8px; }
.kata-head .title { color: var(--muted); flex: 1; min-width: 200px; }
.kata-head .tally { font-weight: 600; white-space: nowrap; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
td { padding: 5px 8px; border-top: 1px solid var(--line); vertical-align: middle; }
td.num { width: 64px; color: var(--muted); white-space: nowrap; }
td.st { width: 124px; }
td.tests { width: 220px; }
td.detail { width: 30%; color: var(--muted); font-size: 13.5px; overflow-wrap: anywhere; }
tr.ungraded td { opacity: .5; }
.progress { display: flex; align-items: center; gap: 8px; }
.bar { position: relative; flex: 1; height: 10px; border-radius: 5px; background: var(--t);
  overflow: hidden; }
.bar .fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--c);
  border-radius: 5px; }
.progress .count { font-size: 12.5px; color: var(--muted); min-width: 42px; text-align: right;
  font-variant-numeric: tabular-nums; }
.problem { margin: 4px 0 8px; }
.perf-row { display: grid; grid-template-columns: minmax(220px, 1fr) 2fr; gap: 6px 18px;
  align-items: center; padding: 8px 0; border-top: 1px solid var(--line); }
.perf-row:first-of-type { border-top: 0; }
.perf-what { font-size: 14px; }
.perf-what code { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
.gauge { position: relative; height: 16px; border-radius: 4px; background: var(--track); }
.gauge .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px; }
.gauge .fill.met { background: var(--passing); }
.gauge .fill.unmet { background: var(--failing); }
.gauge .marker { position: absolute; top: -4px; bottom: -4px; width: 3px; margin-left: -1px;
  background: var(--fg); border-radius: 1px; }
.perf-nums { font-size: 13px; margin-top: 4px; font-variant-numeric: tabular-nums; }
.perf-nums .met { color: var(--passing); font-weight: 600; }
.perf-nums .unmet { color: var(--failing); font-weight: 600; }
.notice { border-radius: 10px; padding: 12px 16px; margin: 0 0 14px; }
.notice.warn { background: var(--warn-bg); border: 1px solid var(--warn-line); }
.notice.ok { background: var(--ok-bg); border: 1px solid var(--ok-line); }
.notice ul { margin: 6px 0 0; padding-left: 20px; }
.notice li { margin: 2px 0; }
.detail-step { border-left: 4px solid var(--c); }
.detail-step h3 .chip { margin-left: 8px; }
.detail-step ul { padding-left: 18px; margin: 6px 0; }
footer { margin-top: 36px; font-size: 12.5px; color: var(--muted); }
@media print {
  :root { --bg: #fff; --card: #fff; }  /* the light palette: dark mode is for screens */
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .card { box-shadow: none; break-inside: avoid; }
  .detail-step { break-inside: auto; }
  h2 { break-after: avoid; }
}
)css";

std::string Esc(std::string_view text) { return XmlEscape(text); }

// "7.5", "10", "0.333": a number with its useless zeros removed.
std::string Number(double value, int decimals) {
  std::string text = fmt::format("{:.{}f}", value, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text == "-0" ? "0" : text;
}

// A measured value or threshold with about three significant digits.
std::string Measure(double value) {
  const double magnitude = std::fabs(value);
  return Number(value, magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3);
}

// A CSS percentage for part / whole, clamped to [0, 100]: "75%".
std::string Percent(double part, double whole) {
  double percent = whole > 0 ? 100.0 * part / whole : 0.0;
  if (!std::isfinite(percent)) percent = 0;
  percent = std::clamp(percent, 0.0, 100.0);
  return Number(percent, 1) + "%";
}

std::string StatusChip(StepStatus status) {
  return fmt::format(R"(<span class="chip s-{}">{}</span>)", StatusToken(status),
                     StatusLabel(status));
}

int PassedTests(const StepResult& step) {
  return static_cast<int>(std::count_if(step.tests.begin(), step.tests.end(), [](const auto& t) {
    return t.outcome == TestOutcome::kPassed;
  }));
}

bool IsAssigned(const KataResult& kata, const StepResult& step) {
  return kata.assigned_steps.empty() ||
         std::find(kata.assigned_steps.begin(), kata.assigned_steps.end(), step.number) !=
             kata.assigned_steps.end();
}

// The steps that pass and the steps graded (those the assignment names, else all).
std::pair<int, int> GradedSteps(const KataResult& kata) {
  int passing = 0;
  int graded = 0;
  for (const StepResult& step : kata.steps) {
    if (!IsAssigned(kata, step)) continue;
    ++graded;
    passing += step.Passing();
  }
  return {passing, graded};
}

// A step's tests passed out of its tests, as a bar coloured by the step's status.
std::string ProgressBar(const StepResult& step) {
  const int passed = PassedTests(step);
  const int total = static_cast<int>(step.tests.size());
  return fmt::format(
      R"(<div class="progress s-{}"><div class="bar"><span class="fill" style="width:{}"></span></div>)"
      R"(<span class="count">{}/{}</span></div>)",
      StatusToken(step.status), Percent(passed, total), passed, total);
}

std::string StepRow(const KataResult& kata, const StepResult& step) {
  const bool assigned = IsAssigned(kata, step);
  // Passing and todo say it all; the others get their one line.
  const bool explained = step.status != StepStatus::kPassing && step.status != StepStatus::kTodo;
  std::string detail = explained ? Esc(step.detail) : "";
  if (!assigned) detail = "not graded" + (detail.empty() ? "" : ": " + detail);
  return fmt::format(
      "<tr{}><td class=\"num\">Step {}</td><td>{}</td><td class=\"st\">{}</td>"
      "<td class=\"tests\">{}</td><td class=\"detail\">{}</td></tr>\n",
      assigned ? "" : R"( class="ungraded")", step.number, Esc(step.title), StatusChip(step.status),
      ProgressBar(step), detail);
}

std::string KataCard(const GradeReport& report, const KataResult& kata) {
  const auto [passing, graded] = GradedSteps(kata);
  std::string tally =
      fmt::format("{}/{} {}steps", passing, graded, graded == kata.StepCount() ? "" : "graded ");
  if (report.has_assignment) {
    tally +=
        fmt::format(" &middot; {} / {} points", Number(kata.earned, 2), Number(kata.weight, 2));
  }
  std::string out = "<section class=\"card kata\">\n<div class=\"kata-head\">";
  out +=
      fmt::format(R"(<h3>{}</h3><span class="title">{}</span>)", Esc(kata.name), Esc(kata.title));
  if (kata.IntegrityBroken()) out += R"(<span class="chip s-failing">tests changed</span>)";
  out += fmt::format(R"(<span class="tally">{}</span></div>)", tally) + "\n";
  if (kata.problem != KataProblem::kNone) {
    out += fmt::format(R"(<div class="problem"><span class="chip s-crashed">{}</span> {}</div>)",
                       ProblemLabel(kata.problem), Esc(kata.problem_detail)) +
           "\n";
  }
  if (!kata.steps.empty()) {
    out += "<table>\n";
    for (const StepResult& step : kata.steps) out += StepRow(kata, step);
    out += "</table>\n";
  }
  return out + "</section>\n";
}

// The header: the assignment's score out of its weights, or the steps passing.
std::string Summary(const GradeReport& report) {
  int passing = 0;
  int steps = 0;
  for (const KataResult& kata : report.katas) {
    const auto [kata_passing, kata_graded] = GradedSteps(kata);
    passing += kata_passing;
    steps += kata_graded;
  }
  std::string title;
  std::string score;
  std::string verdict;
  double part = passing;
  double whole = steps;
  if (report.has_assignment) {
    title = report.assignment_title.empty() ? "Assignment" : Esc(report.assignment_title);
    part = report.score;
    whole = report.max_score;
    score = fmt::format("{} <small>/ {} points</small>", Number(report.score, 2),
                        Number(report.max_score, 2));
    const bool full = report.max_score > 0 && report.score >= report.max_score;
    verdict = fmt::format(R"(<span class="verdict {}">{}</span>)", full ? "yes" : "no",
                          full ? "full marks" : "not full marks");
  } else {
    title = "Kata grade";
    score = fmt::format("{} <small>/ {} steps passing</small>", passing, steps);
    verdict = fmt::format(R"(<span class="verdict {}">{}</span>)", report.AllPass() ? "yes" : "no",
                          report.AllPass() ? "all passing" : "not all passing");
  }
  const double ratio = whole > 0 ? std::clamp(part / whole, 0.0, 1.0) : 0.0;
  const std::string ring_colour = ratio >= 1.0   ? "var(--passing)"
                                  : ratio >= 0.5 ? "var(--todo)"
                                                 : "var(--failing)";

  std::string out = "<header class=\"card summary\">\n";
  out += fmt::format(
      R"(<div class="ring" style="--p:{};--ring:{}"><div><b>{}</b><span>{}</span></div></div>)",
      Percent(part, whole), ring_colour, Number(ratio * 100, 0) + "%",
      report.has_assignment ? "of points" : "of steps");
  out += "\n<div class=\"what\">";
  out += fmt::format("<h1>{} {}</h1>", title, verdict);
  out += fmt::format(R"(<div class="score">{}</div>)", score);
  std::string sub = fmt::format("{} variant", Esc(report.variant));
  if (report.has_assignment) {
    sub += fmt::format(" &middot; {}/{} graded steps passing", passing, steps);
    if (!report.assignment_file.empty()) sub += " &middot; " + Esc(report.assignment_file);
  }
  out += fmt::format(R"(<div class="muted">{}</div>)", sub);

  // How many steps are in each status, in the order of the enum.
  constexpr std::array kStatuses = {
      StepStatus::kPassing, StepStatus::kTodo,     StepStatus::kFailing,
      StepStatus::kCrashed, StepStatus::kTimedOut, StepStatus::kExitedEarly,
      StepStatus::kFlooded, StepStatus::kNoTests,  StepStatus::kNotRun};
  std::string counts;
  for (const StepStatus status : kStatuses) {
    int count = 0;
    for (const KataResult& kata : report.katas) {
      count += static_cast<int>(std::count_if(kata.steps.begin(), kata.steps.end(),
                                              [&](const auto& s) { return s.status == status; }));
    }
    if (count > 0) {
      counts += fmt::format(R"(<span class="chip s-{}">{} {}</span>)", StatusToken(status), count,
                            StatusLabel(status));
    }
  }
  int problems = 0;
  for (const KataResult& kata : report.katas) problems += kata.problem != KataProblem::kNone;
  if (problems > 0) {
    counts += fmt::format(R"(<span class="chip s-crashed">{} {} not run</span>)", problems,
                          problems == 1 ? "kata" : "katas");
  }
  if (!counts.empty()) out += "<div class=\"counts\">" + counts + "</div>";
  return out + "</div>\n</header>\n";
}

std::string FileLine(const FileCheck& file) {
  std::string line = fmt::format(R"(<li><span class="chip s-{}">{}</span> <code>{}</code>)",
                                 file.state == FileState::kMissing ? "crashed" : "failing",
                                 FileStateToken(file.state), Esc(file.path));
  if (file.state == FileState::kChanged) {
    line +=
        fmt::format(R"( <span class="muted">sha256 {}&hellip;, published {}&hellip;</span>)",
                    Esc(file.actual_sha256.substr(0, 12)), Esc(file.expected_sha256.substr(0, 12)));
  }
  return line + "</li>\n";
}

// Names every changed or missing published file; says so briefly when all match.
std::string Integrity(const GradeReport& report) {
  std::vector<const FileCheck*> broken;
  std::size_t checked = report.shared_files.size();
  for (const FileCheck& file : report.shared_files) {
    if (file.state != FileState::kUnchanged) broken.push_back(&file);
  }
  for (const KataResult& kata : report.katas) {
    checked += kata.files.size();
    for (const FileCheck& file : kata.files) {
      if (file.state != FileState::kUnchanged) broken.push_back(&file);
    }
  }
  const std::string against =
      report.digests_file.empty() ? "the published digests" : Esc(report.digests_file);
  if (broken.empty()) {
    if (checked == 0) return "";
    return fmt::format(
        "<div class=\"notice ok\"><b>Integrity:</b> all {} published test and fixture files "
        "match {}.</div>\n",
        checked, against);
  }
  std::string out = fmt::format(
      "<div class=\"notice warn\"><b>Integrity warning:</b> {} published test or fixture {} "
      "{} from {}.",
      broken.size(), broken.size() == 1 ? "file" : "files",
      broken.size() == 1 ? "differs" : "differ", against);
  if (report.integrity_fails) {
    out += " The assignment gives no credit for a kata whose tests or fixtures changed.";
  }
  out += "\n<ul>\n";
  for (const FileCheck* file : broken) out += FileLine(*file);
  return out + "</ul></div>\n";
}

std::string Unit(const PerformanceThreshold& threshold) {
  return threshold.min_speedup ? "&times;" : " " + Esc(threshold.counter);
}

// One threshold: the measured value as a bar, a marker at each bound.
std::string PerfRow(const GradeReport& report, const ThresholdResult& result) {
  const PerformanceThreshold& threshold = result.threshold;
  std::vector<std::pair<std::string, double>> bounds;  // "&ge;", value
  if (threshold.min_speedup) bounds.emplace_back("&ge;", *threshold.min_speedup);
  if (threshold.min) bounds.emplace_back("&ge;", *threshold.min);
  if (threshold.max) bounds.emplace_back("&le;", *threshold.max);
  double largest = result.measured.value_or(0);
  for (const auto& bound : bounds) largest = std::max(largest, bound.second);
  const double scale = largest > 0 ? largest / kPerfScaleFraction : 1;
  const std::string met = result.passed ? "met" : "unmet";

  std::string out = "<div class=\"perf-row\"><div class=\"perf-what\">";
  out += Esc(threshold.what.empty() ? threshold.benchmark : threshold.what);
  out += fmt::format("<br><code>{}</code>", Esc(threshold.benchmark));
  if (!threshold.baseline.empty()) {
    out += fmt::format(" <span class=\"muted\">vs</span> <code>{}</code>", Esc(threshold.baseline));
  }
  out += "</div>\n<div><div class=\"gauge\">";
  if (result.measured) {
    out += fmt::format(R"(<span class="fill {}" style="width:{}"></span>)", met,
                       Percent(*result.measured, scale));
  }
  for (const auto& bound : bounds) {
    out += fmt::format(R"(<span class="marker" style="left:{}"></span>)",
                       Percent(bound.second, scale));
  }
  out += "</div>\n<div class=\"perf-nums\">";
  out += fmt::format(R"(<span class="{}">{}</span> )", met, result.passed ? "met" : "not met");
  if (result.measured) {
    out += fmt::format("&middot; measured <b>{}{}</b>", Measure(*result.measured), Unit(threshold));
  } else {
    out += "&middot; no measurement";
  }
  for (const auto& bound : bounds) {
    out +=
        fmt::format(" &middot; needs {} {}{}", bound.first, Measure(bound.second), Unit(threshold));
  }
  if (report.has_assignment) out += fmt::format(" &middot; worth {}", Number(threshold.weight, 2));
  if (!result.measured && !result.detail.empty()) {
    out += fmt::format(R"(<br><span class="muted">{}</span>)", Esc(result.detail));
  }
  return out + "</div></div></div>\n";
}

std::string Performance(const GradeReport& report) {
  std::string out;
  for (const KataResult& kata : report.katas) {
    if (kata.performance.empty() && kata.performance_problem.empty()) continue;
    out += fmt::format("<section class=\"card\">\n<div class=\"kata-head\"><h3>{}</h3>",
                       Esc(kata.name));
    const auto met = std::count_if(kata.performance.begin(), kata.performance.end(),
                                   [](const ThresholdResult& r) { return r.passed; });
    out += fmt::format(R"(<span class="title">{}</span><span class="tally">{}/{} met</span>)",
                       Esc(kata.title), met, kata.performance.size());
    out += "</div>\n";
    if (!kata.performance_problem.empty()) {
      out += fmt::format(R"(<div class="problem"><span class="chip s-crashed">no results</span> {})"
                         "</div>\n",
                         Esc(kata.performance_problem));
    }
    for (const ThresholdResult& result : kata.performance) out += PerfRow(report, result);
    out += "</section>\n";
  }
  return out.empty() ? "" : "<h2>Performance</h2>\n" + out;
}

std::string Pre(std::string_view text, std::size_t max_lines) {
  return "<pre>" + Esc(TrimRight(FirstLines(ClipLongLines(text, kHtmlLineChars), max_lines))) +
         "</pre>\n";
}

// What went wrong in one step that was run and does not pass.
std::string StepDetails(const KataResult& kata, const StepResult& step) {
  std::string out =
      fmt::format("<section class=\"card detail-step s-{}\">\n<h3>{} &middot; Step {}: {}{}</h3>\n",
                  StatusToken(step.status), Esc(kata.name), step.number, Esc(step.title),
                  StatusChip(step.status));
  if (!step.detail.empty()) out += fmt::format("<p class=\"muted\">{}</p>\n", Esc(step.detail));
  if (IsAbnormal(step.status)) {
    if (!step.unfinished_test.empty()) {
      out +=
          fmt::format("<p>Running <code>{}</code> when it ended.</p>\n", Esc(step.unfinished_test));
    }
    if (!Trim(step.output).empty()) out += Pre(step.output, kOutputLines);
    return out + "</section>\n";
  }
  std::string todo;
  for (const TestResult& test : step.tests) {
    if (test.outcome == TestOutcome::kTodo) {
      todo += fmt::format("<li><code>{}</code></li>", Esc(test.name));
    } else if (test.outcome == TestOutcome::kFailed) {
      std::string failures;
      for (const std::string& failure : test.failures) failures += failure + "\n";
      out += fmt::format("<p><code>{}</code> failed</p>\n", Esc(test.name));
      if (!Trim(failures).empty()) out += Pre(failures, kHtmlFailureLines);
    }
  }
  if (!todo.empty()) {
    out += "<p>Waiting for a stub (llmk::NotImplemented):</p>\n<ul>" + todo + "</ul>\n";
  }
  return out + "</section>\n";
}

std::string Details(const GradeReport& report) {
  std::string out;
  int todo_steps = 0;
  for (const KataResult& kata : report.katas) {
    if (kata.problem != KataProblem::kNone) {
      out += fmt::format(
          "<section class=\"card detail-step s-crashed\">\n<h3>{}: {}</h3>\n<p "
          "class=\"muted\">{}</p>\n",
          Esc(kata.name), ProblemLabel(kata.problem), Esc(kata.problem_detail));
      if (!Trim(kata.problem_output).empty()) out += Pre(kata.problem_output, kOutputLines);
      out += "</section>\n";
      continue;
    }
    for (const StepResult& step : kata.steps) {
      if (step.status == StepStatus::kTodo) {
        ++todo_steps;  // the board says it all: every test waits for a stub
      } else if (!step.Passing() && step.status != StepStatus::kNotRun) {
        out += StepDetails(kata, step);
      }
    }
  }
  if (out.empty() && todo_steps == 0) return "";
  std::string head = "<h2>What does not pass</h2>\n";
  if (todo_steps > 0) {
    head += fmt::format(
        "<p class=\"muted\">{} {} todo: {} tests fail with llmk::NotImplemented, the stubs "
        "are not written yet.</p>\n",
        todo_steps, todo_steps == 1 ? "step is" : "steps are", todo_steps == 1 ? "its" : "their");
  }
  return head + out;
}

}  // namespace

std::string HtmlReport(const GradeReport& report) {
  const std::string title = report.has_assignment && !report.assignment_title.empty()
                                ? Esc(report.assignment_title)
                                : fmt::format("Kata grade ({})", Esc(report.variant));
  std::string out = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"color-scheme\" content=\"light dark\">\n";
  out +=
      fmt::format("<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n", title, kCss);
  out += Summary(report);
  out += Integrity(report);
  out += "<h2>Board</h2>\n";
  for (const KataResult& kata : report.katas) out += KataCard(report, kata);
  out += Performance(report);
  out += Details(report);
  out += fmt::format(
      "<footer>Written by <code>kata grade --format html</code> &middot; {} variant{}{}"
      "</footer>\n",
      Esc(report.variant),
      report.assignment_file.empty() ? "" : " &middot; assignment " + Esc(report.assignment_file),
      report.digests_file.empty() ? "" : " &middot; digests " + Esc(report.digests_file));
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace llmk::kata
