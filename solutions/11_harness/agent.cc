// Solution of kata 11, steps 8 to 10: parse a model turn, run tools with a time limit,
// and the agent loop that ties them together with a step and a time budget.
#include "agent.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_join.h"
#include "llmk/core.h"

namespace llmk::harness {
namespace {

constexpr size_t kMaxToolName = 64;

bool IsNameChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_';
}

bool IsToolName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxToolName &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view TrimSpacesAndTabs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Everything before the first ' ' or '('.
std::string_view FirstWord(std::string_view line) {
  return line.substr(0, std::min(line.find(' '), line.find('(')));
}

struct ActionLine {
  int number;             // 1-based line number in the turn
  std::string_view text;  // without trailing '\r', spaces and tabs
  bool is_call;
};

constexpr std::string_view kFormat = "write one line CALL name(argument) to use a tool, "
                                     "or ANSWER: text to finish";

absl::StatusOr<Action> ParseCall(const ActionLine& line) {
  const std::string_view text = line.text;
  constexpr std::string_view kCall = "CALL ";
  if (!text.starts_with(kCall)) {
    return absl::InvalidArgumentError(fmt::format(
        "line {}: CALL must be followed by one space and the tool name, as in "
        "CALL name(argument)", line.number));
  }
  size_t pos = kCall.size();
  const size_t name_start = pos;
  while (pos < text.size() && IsNameChar(text[pos])) ++pos;
  const std::string_view name = text.substr(name_start, pos - name_start);
  if (name.empty() || name.size() > kMaxToolName) {
    return absl::InvalidArgumentError(fmt::format(
        "line {}: the tool name after CALL must be 1 to {} characters of [A-Za-z0-9_]",
        line.number, kMaxToolName));
  }
  if (pos == text.size() || text[pos] != '(') {
    return absl::InvalidArgumentError(fmt::format(
        "line {}: expected '(' right after the tool name \"{}\", as in CALL {}(argument)",
        line.number, name, name));
  }
  const size_t open = pos;
  if (text.size() < open + 2 || text.back() != ')') {
    return absl::InvalidArgumentError(fmt::format(
        "line {}: a call must end with ')' as the last character of the line",
        line.number));
  }
  Action action;
  action.kind = ActionKind::kToolCall;
  action.tool = std::string(name);
  action.argument = std::string(text.substr(open + 1, text.size() - open - 2));
  return action;
}

// Runs the tool and turns an exception into a status.
absl::StatusOr<std::string> CallCatchingExceptions(const ToolFunction& tool,
                                                   const std::string& argument,
                                                   const CancellationToken& cancel) {
  try {
    return tool(argument, cancel);
  } catch (const std::exception& e) {
    return absl::InternalError(fmt::format("threw: {}", e.what()));
  } catch (...) {
    return absl::InternalError("threw a non-standard exception");
  }
}

StepOutcome OutcomeOfToolStatus(const absl::Status& status) {
  if (status.ok()) return StepOutcome::kToolResult;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return StepOutcome::kUnknownTool;
    case absl::StatusCode::kDeadlineExceeded:
      return StepOutcome::kToolTimedOut;
    default:
      return StepOutcome::kToolError;
  }
}

}  // namespace

// Step 8: find the one action line, then parse it strictly.
absl::StatusOr<Action> ParseAction(std::string_view model_output) {
  std::vector<ActionLine> actions;
  int number = 0;
  size_t start = 0;
  while (true) {
    const size_t newline = model_output.find('\n', start);
    const size_t end = newline == std::string_view::npos ? model_output.size() : newline;
    const std::string_view line = TrimRight(model_output.substr(start, end - start));
    ++number;
    if (FirstWord(line) == "CALL") {
      actions.push_back({number, line, true});
    } else if (line.starts_with("ANSWER:")) {
      actions.push_back({number, line, false});
    }
    if (newline == std::string_view::npos) break;
    start = newline + 1;
  }
  if (actions.empty()) {
    return absl::InvalidArgumentError(fmt::format("no action in your turn; {}", kFormat));
  }
  if (actions.size() > 1) {
    std::vector<int> lines;
    for (const ActionLine& a : actions) lines.push_back(a.number);
    return absl::InvalidArgumentError(
        fmt::format("{} actions in one turn (lines {}); write exactly one action per turn",
                    actions.size(), absl::StrJoin(lines, ", ")));
  }
  const ActionLine& line = actions.front();
  if (line.is_call) return ParseCall(line);
  Action action;
  action.kind = ActionKind::kAnswer;
  action.answer = std::string(TrimSpacesAndTabs(line.text.substr(7)));  // after "ANSWER:"
  return action;
}

// Step 9: the registry.
void ToolRegistry::Register(const std::string& name, ToolFunction run) {
  constexpr std::string_view kWhere = "ToolRegistry::Register";
  Require(IsToolName(name), kWhere,
          fmt::format("name \"{}\" must be 1 to {} characters of [A-Za-z0-9_]", name,
                      kMaxToolName));
  Require(static_cast<bool>(run), kWhere,
          fmt::format("run is empty; tool \"{}\" needs a function", name));
  Require(!tools_.contains(name), kWhere,
          fmt::format("name \"{}\" is already registered", name));
  tools_.emplace(name, std::move(run));
}

const ToolFunction* ToolRegistry::Find(std::string_view name) const {
  const auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : &it->second;
}

std::vector<std::string> ToolRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(tools_.size());
  for (const auto& [name, tool] : tools_) names.push_back(name);  // a std::map is sorted
  return names;
}

// Step 9: a detached worker thread and a future with a deadline.
absl::StatusOr<std::string> RunWithTimeLimit(const ToolFunction& tool,
                                             const std::string& argument,
                                             absl::Duration time_limit) {
  Require(static_cast<bool>(tool), "RunWithTimeLimit", "tool is an empty function");
  Require(time_limit > absl::ZeroDuration(), "RunWithTimeLimit",
          fmt::format("time_limit must be > 0, got {}", absl::FormatDuration(time_limit)));
  std::promise<absl::StatusOr<std::string>> promise;
  std::future<absl::StatusOr<std::string>> result = promise.get_future();
  CancellationToken cancel;
  try {
    // The worker owns copies of everything it touches: the tool, the argument, the
    // token and the promise. If we give up on it, nothing it uses dies under it.
    std::thread worker([tool, argument, cancel, promise = std::move(promise)]() mutable {
      promise.set_value(CallCatchingExceptions(tool, argument, cancel));
    });
    worker.detach();  // never joined: a hung tool must not block us or process exit
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        fmt::format("could not start a thread for the tool: {}", e.what()));
  }
  // wait_for adds the limit to now(); a year keeps that sum far from overflowing.
  const absl::Duration wait = std::min(time_limit, absl::Hours(24 * 365));
  if (result.wait_for(absl::ToChronoNanoseconds(wait)) != std::future_status::ready) {
    cancel.Cancel();  // a cooperative tool stops; the others run on, abandoned
    return absl::DeadlineExceededError(
        fmt::format("timed out after {}", absl::FormatDuration(time_limit)));
  }
  return result.get();
}

// Step 9: look up, run, name the tool in every error.
absl::StatusOr<std::string> RunTool(const ToolRegistry& tools, std::string_view name,
                                    const std::string& argument, absl::Duration time_limit) {
  const ToolFunction* tool = tools.Find(name);
  if (tool == nullptr) {
    const std::vector<std::string> names = tools.Names();
    return absl::NotFoundError(fmt::format("unknown tool \"{}\"; available tools: {}", name,
                                           names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  absl::StatusOr<std::string> result = RunWithTimeLimit(*tool, argument, time_limit);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        fmt::format("tool \"{}\": {}", name, std::string(result.status().message())));
  }
  return result;
}

// Step 10: turns until an answer, an error of the model, or a budget runs out.
AgentRun RunAgent(ChatModel& model, const ToolRegistry& tools, const std::string& task,
                  const AgentOptions& options, Clock& clock) {
  constexpr std::string_view kWhere = "RunAgent";
  Require(options.max_steps >= 1, kWhere,
          fmt::format("max_steps must be >= 1, got {}", options.max_steps));
  Require(options.time_budget > absl::ZeroDuration(), kWhere,
          fmt::format("time_budget must be > 0, got {}",
                      absl::FormatDuration(options.time_budget)));
  Require(options.tool_time_limit > absl::ZeroDuration(), kWhere,
          fmt::format("tool_time_limit must be > 0, got {}",
                      absl::FormatDuration(options.tool_time_limit)));

  AgentRun run;
  run.conversation.push_back({Role::kUser, task});
  const absl::Time deadline = clock.Now() + options.time_budget;
  for (int number = 1;; ++number) {
    if (number > options.max_steps) {
      run.stop_reason = AgentStop::kStepBudget;
      return run;
    }
    const absl::Time step_start = clock.Now();
    if (step_start >= deadline) {
      run.stop_reason = AgentStop::kTimeBudget;
      return run;
    }
    TranscriptStep step;
    step.number = number;
    auto finish = [&](StepOutcome outcome) {
      step.outcome = outcome;
      step.elapsed = clock.Now() - step_start;
      if (!step.feedback.empty()) run.conversation.push_back({Role::kTool, step.feedback});
      run.transcript.push_back(std::move(step));
    };

    // 1. The model's turn; its failure ends the run.
    absl::StatusOr<std::string> output;
    try {
      output = model.Respond(run.conversation);
    } catch (const std::exception& e) {
      output = absl::InternalError(fmt::format("the model threw: {}", e.what()));
    } catch (...) {
      output = absl::InternalError("the model threw a non-standard exception");
    }
    if (!output.ok()) {
      step.status = output.status();
      finish(StepOutcome::kModelError);
      run.stop_reason = AgentStop::kModelError;
      return run;
    }
    step.model_output = *output;
    run.conversation.push_back({Role::kAssistant, *output});

    // 2. A turn that does not parse is answered with the reason; the model tries again.
    absl::StatusOr<Action> action = ParseAction(*output);
    if (!action.ok()) {
      step.status = action.status();
      step.feedback = fmt::format("ERROR: {}", std::string(action.status().message()));
      finish(StepOutcome::kMalformed);
      continue;
    }

    // 3. An answer ends the run.
    if (action->kind == ActionKind::kAnswer) {
      run.answer = action->answer;
      finish(StepOutcome::kAnswered);
      run.stop_reason = AgentStop::kAnswered;
      return run;
    }

    // 4. A tool call, limited by the time left.
    step.tool = action->tool;
    step.argument = action->argument;
    const absl::Duration left = deadline - clock.Now();
    if (left <= absl::ZeroDuration()) {
      step.status = absl::DeadlineExceededError(fmt::format(
          "the time budget of {} was spent before tool \"{}\" could run",
          absl::FormatDuration(options.time_budget), step.tool));
      finish(StepOutcome::kOutOfTime);
      run.stop_reason = AgentStop::kTimeBudget;
      return run;
    }
    const absl::StatusOr<std::string> result =
        RunTool(tools, step.tool, step.argument, std::min(options.tool_time_limit, left));
    step.status = result.status();
    step.feedback = result.ok() ? fmt::format("RESULT: {}", *result)
                                : fmt::format("ERROR: {}", std::string(result.status().message()));
    finish(OutcomeOfToolStatus(result.status()));
  }
}

}  // namespace llmk::harness
