// Kata 11, steps 8 to 10: a dependable agent loop.
//
//   harness::ToolRegistry tools;                                        // step 9
//   tools.Register("add", [](const std::string& arg, const harness::CancellationToken&)
//                             -> absl::StatusOr<std::string> { ... });
//   harness::AgentOptions options;                                      // step 10
//   options.max_steps = 8;
//   options.time_budget = absl::Seconds(60);
//   options.tool_time_limit = absl::Seconds(5);
//   harness::SystemClock clock;
//   harness::AgentRun run = harness::RunAgent(model, tools, "What is 2 + 3?", options, clock);
//   // run.stop_reason, run.answer, run.transcript (every step and its outcome)
//
// The action format (step 8). A model turn is text, split into lines at '\n'; a trailing
// '\r' and trailing spaces and tabs of a line are ignored. Two kinds of line are actions:
//
//   CALL name(argument)     run the tool `name` on `argument`, show me the result
//   ANSWER: text            my final answer; the run ends
//
//   - A line is a call when its first word (everything before the first ' ' or '(') is
//     exactly "CALL"; it is an answer when it starts with "ANSWER:". Both start at
//     column 0. Every other line is free text (the model thinking aloud), ignored.
//   - A turn holds exactly one action line; none, or two and more, is malformed.
//   - A call line is exactly: "CALL", one space, the tool name (1 to 64 characters of
//     [A-Za-z0-9_]), "(", the argument, ")" as the last character of the line. The
//     argument is everything between that "(" and the last ")": any text, possibly
//     empty, possibly with parentheses of its own, not trimmed.
//   - The answer is the text after "ANSWER:", trimmed of spaces and tabs (may be empty).
//
//   Example turn, one thought and one call:
//     I need the sum first.
//     CALL add(2, 3)
//
// Errors. Contract violations by the caller (a bad tool name at registration, a budget
// <= 0) throw llmk::InvalidArgument. Everything a model or a tool can do wrong is an
// expected runtime condition: it is returned as an absl::Status, becomes an "ERROR: ..."
// message back to the model, and is recorded in the transcript. Never a crash.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace llmk::harness {

// ---------------------------------------------------------------------------------
// Step 8: parse a model turn.

enum class ActionKind { kToolCall, kAnswer };

struct Action {
  ActionKind kind = ActionKind::kAnswer;
  std::string tool;      // kToolCall: the tool's name
  std::string argument;  // kToolCall: the text between the parentheses
  std::string answer;    // kAnswer: the text after "ANSWER:", trimmed
};

// Step 8. Finds the one action of a model turn (format above). A turn with no action,
// several actions, or a call line that does not follow the format gives
// InvalidArgument whose message says what is wrong, on which line, and what is
// expected: it is shown to the model, so that it can correct itself.
absl::StatusOr<Action> ParseAction(std::string_view model_output);

// ---------------------------------------------------------------------------------
// Step 9: tools, a registry, and a time limit per call.

// A flag the harness sets when a call's time limit has passed. Copies share the flag.
// A well-behaved tool that can take long checks cancelled() and returns early; a tool
// that ignores it keeps running on its abandoned thread until it returns by itself.
class CancellationToken {
 public:
  CancellationToken() : cancelled_(std::make_shared<std::atomic<bool>>(false)) {}
  bool cancelled() const { return cancelled_->load(std::memory_order_acquire); }
  void Cancel() const { cancelled_->store(true, std::memory_order_release); }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

// A tool maps an argument text to a result text, or to an error status. It runs on a
// thread of its own and may outlive the call that started it (a timeout abandons it):
// it must own what it uses (capture by value or by shared_ptr, never by reference to
// something that may die first) and must not touch the registry or the conversation.
using ToolFunction = std::function<absl::StatusOr<std::string>(
    const std::string& argument, const CancellationToken& cancel)>;

class ToolRegistry {
 public:
  // Step 9. Adds a tool. Throws InvalidArgument if `name` is not 1 to 64 characters of
  // [A-Za-z0-9_] (the names a call line can spell), is already registered, or `run`
  // is empty.
  void Register(const std::string& name, ToolFunction run);
  // Step 9. The tool registered as `name`, or nullptr.
  const ToolFunction* Find(std::string_view name) const;
  // Step 9. Every registered name, sorted.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, ToolFunction, std::less<>> tools_;
};

// Step 9. Runs tool(argument, token) on a new thread and waits at most time_limit:
//   - it returns in time: its result or its own error status, unchanged;
//   - it throws: Internal, "threw: <what()>" (or "threw a non-standard exception");
//   - time_limit passes first: the token is cancelled, the thread is detached and
//     abandoned (never joined: a hung tool cannot block the caller or process exit),
//     and the result is DeadlineExceeded, "timed out after <time_limit>".
//   - no thread can be started: ResourceExhausted.
// The tool and its argument are copied into the thread. time_limit > 0, else
// InvalidArgument; an empty `tool` is InvalidArgument too.
absl::StatusOr<std::string> RunWithTimeLimit(const ToolFunction& tool,
                                             const std::string& argument,
                                             absl::Duration time_limit);

// Step 9. Looks `name` up and runs it with RunWithTimeLimit. An unknown name is
// NotFound, 'unknown tool "<name>"; available tools: <sorted names, comma-separated, or
// "none">'. Every error, the tool's own included, keeps its code and has its message
// prefixed with 'tool "<name>": ' so that the model learns which call failed.
absl::StatusOr<std::string> RunTool(const ToolRegistry& tools, std::string_view name,
                                    const std::string& argument, absl::Duration time_limit);

// ---------------------------------------------------------------------------------
// Step 10: the agent loop.

enum class Role {
  kUser,       // the task
  kAssistant,  // a model turn, verbatim
  kTool,       // what the harness answers: a tool's result or an error
};

struct Message {
  Role role = Role::kUser;
  std::string content;
};

// What RunAgent needs from a model: the next turn, given the conversation so far. A
// model served over a network fails now and then: that is a status, not a crash.
class ChatModel {
 public:
  virtual ~ChatModel() = default;
  virtual absl::StatusOr<std::string> Respond(const std::vector<Message>& conversation) = 0;
};

// Where RunAgent reads the time from. Tests inject a fake one that they advance by
// hand, so that time budgets are tested without waiting.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// The real time.
class SystemClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

struct AgentOptions {
  int max_steps = 10;                                 // model turns, >= 1
  absl::Duration time_budget = absl::Minutes(5);      // for the whole run, by the Clock, > 0
  absl::Duration tool_time_limit = absl::Seconds(30); // per tool call, real time, > 0
};

// Why a run ended.
enum class AgentStop {
  kAnswered,     // the model gave an ANSWER
  kStepBudget,   // max_steps turns without an answer
  kTimeBudget,   // time_budget spent without an answer
  kModelError,   // the model failed to respond
};

// What one step (one model turn and what the harness did with it) came to.
enum class StepOutcome {
  kAnswered,      // the turn was an ANSWER
  kToolResult,    // a tool ran and returned a result
  kToolError,     // a tool ran and failed: returned an error or threw (see status)
  kToolTimedOut,  // a tool did not return within its time limit
  kUnknownTool,   // the call named no registered tool
  kMalformed,     // no action, several actions, or a call that does not parse
  kOutOfTime,     // a well-formed call, but the time budget was spent before it could run
  kModelError,    // the model returned an error or threw
};

// One line of the transcript.
struct TranscriptStep {
  int number = 0;              // 1-based turn
  std::string model_output;    // the model's turn, verbatim (empty for kModelError)
  StepOutcome outcome = StepOutcome::kModelError;
  std::string tool;            // the tool a parsed call named (empty otherwise)
  std::string argument;        // its argument
  absl::Status status;         // OK, or what went wrong (parse, tool, model, time)
  std::string feedback;        // what was appended for the model (empty if nothing)
  absl::Duration elapsed;      // the step's duration by the Clock: turn and tool call
};

struct AgentRun {
  AgentStop stop_reason = AgentStop::kStepBudget;
  std::string answer;                      // kAnswered: the answer
  std::vector<Message> conversation;       // the task, every turn, every feedback
  std::vector<TranscriptStep> transcript;  // one entry per model turn
};

// Step 10. The agent loop. The conversation starts as {kUser, task}. Before each turn:
// if max_steps turns were taken, stop with kStepBudget; else if the clock has reached
// start + time_budget, stop with kTimeBudget. A turn:
//   1. output = model.Respond(conversation). An error status, or an exception, ends the
//      run with kModelError (the step records it). Else {kAssistant, output} is appended.
//   2. ParseAction(output). Malformed: feedback "ERROR: <parse message>", next turn.
//   3. An answer ends the run with kAnswered (even one that arrives after the deadline).
//   4. A call: if the time budget is spent, the step is kOutOfTime and the run stops
//      with kTimeBudget. Else RunTool with a limit of min(tool_time_limit, time left)
//      (a hung tool cannot overrun the budget), and the feedback is
//      "RESULT: <result>", or "ERROR: <status message>" (unknown tool, timeout, error).
//   Feedback is appended as {kTool, feedback}; every turn gets a transcript step.
// The loop always ends: every turn counts against max_steps, and no tool call can run
// past its limit. (Respond itself runs on the caller's thread without a limit: a model
// client must time out its own requests; see README.md, Step 10.)
// Throws InvalidArgument for max_steps < 1, time_budget <= 0 or tool_time_limit <= 0.
AgentRun RunAgent(ChatModel& model, const ToolRegistry& tools, const std::string& task,
                  const AgentOptions& options, Clock& clock);

}  // namespace llmk::harness
