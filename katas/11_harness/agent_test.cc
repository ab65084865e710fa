// Tests of kata 11, steps 8 to 10 (the agent loop), with scripted models that behave
// and that misbehave: one that never stops, one that calls unknown tools, one that
// emits garbage, one whose tool hangs, one that fails. The loop must always end, with
// the reason, and the transcript must say what happened at every step.
//
// Time: budgets are tested with a FakeClock that the scripted models and tools advance
// by hand, so nothing waits. The per-call time limit is real time (a hung thread cannot
// be waited for on a fake clock); those tests use limits of 100 ms, tools that wait for
// their cancellation token, and bounds that only a broken implementation would miss.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent.h"
#include "llmk/testing/testing.h"

namespace llmk::harness {
namespace {

using ::llmk::testing::Rng;
using std::chrono::steady_clock;

constexpr absl::Duration kShortLimit = absl::Milliseconds(100);

// A clock that moves only when told to. Thread-safe: tools advance it from their thread.
class FakeClock : public Clock {
 public:
  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// A chat model that plays a script: turn i returns turns[i], and the last turn again
// once the script is over. It records every conversation it is shown and may advance a
// fake clock by a fixed duration per turn.
class ScriptedModel : public ChatModel {
 public:
  explicit ScriptedModel(std::vector<std::string> turns, FakeClock* clock = nullptr,
                         absl::Duration per_turn = absl::ZeroDuration())
      : turns_(std::move(turns)), clock_(clock), per_turn_(per_turn) {}
  absl::StatusOr<std::string> Respond(const std::vector<Message>& conversation) override {
    seen_.push_back(conversation);
    if (clock_ != nullptr) clock_->Advance(per_turn_);
    const size_t i = std::min(seen_.size() - 1, turns_.size() - 1);
    return turns_[i];
  }
  int calls() const { return static_cast<int>(seen_.size()); }
  const std::vector<Message>& seen(int turn) const { return seen_[static_cast<size_t>(turn)]; }

 private:
  std::vector<std::string> turns_;
  FakeClock* clock_;
  absl::Duration per_turn_;
  std::vector<std::vector<Message>> seen_;
};

// A model that produces its turns with a function (for random and failing models).
class FunctionModel : public ChatModel {
 public:
  explicit FunctionModel(std::function<absl::StatusOr<std::string>(int turn)> next)
      : next_(std::move(next)) {}
  absl::StatusOr<std::string> Respond(const std::vector<Message>&) override {
    return next_(calls_++);
  }
  int calls() const { return calls_; }

 private:
  std::function<absl::StatusOr<std::string>(int)> next_;
  int calls_ = 0;
};

// "2, 3" -> "5". A tool that parses its argument and reports a bad one as a status.
absl::StatusOr<std::string> Add(const std::string& argument, const CancellationToken&) {
  const std::vector<absl::string_view> parts = absl::StrSplit(argument, ',');
  long long sum = 0;
  for (absl::string_view part : parts) {
    long long term = 0;
    if (!absl::SimpleAtoi(part, &term)) {
      return absl::InvalidArgumentError("add expects integers separated by commas");
    }
    sum += term;
  }
  return std::to_string(sum);
}

absl::StatusOr<std::string> Echo(const std::string& argument, const CancellationToken&) {
  return argument;
}

absl::StatusOr<std::string> Throws(const std::string&, const CancellationToken&) {
  throw std::runtime_error("disk on fire");
}

// Hangs until cancelled, or until 3 s pass, so that a harness that forgets to cancel
// (or that waits for it) fails its tests instead of hanging the step. Reports through a
// shared flag that it saw the cancellation.
ToolFunction HangUntilCancelled(std::shared_ptr<std::atomic<bool>> saw_cancel = nullptr) {
  return [saw_cancel](const std::string&,
                      const CancellationToken& cancel) -> absl::StatusOr<std::string> {
    const auto give_up = steady_clock::now() + std::chrono::seconds(3);
    while (!cancel.cancelled() && steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (saw_cancel && cancel.cancelled()) saw_cancel->store(true);
    return std::string("too late");
  };
}

// Ignores its token and sleeps 3 s: the harness must not wait for it.
absl::StatusOr<std::string> Stubborn(const std::string&, const CancellationToken&) {
  std::this_thread::sleep_for(std::chrono::seconds(3));
  return std::string("finally");
}

ToolRegistry StandardTools() {
  ToolRegistry tools;
  tools.Register("add", Add);
  tools.Register("echo", Echo);
  tools.Register("throws", Throws);
  tools.Register("hang", HangUntilCancelled());
  return tools;
}

double SecondsSince(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// The conversation is the task, then each turn followed by its feedback, if any.
void ExpectConversationMatchesTranscript(const AgentRun& run, const std::string& task) {
  ASSERT_FALSE(run.conversation.empty());
  EXPECT_EQ(run.conversation[0].role, Role::kUser);
  EXPECT_EQ(run.conversation[0].content, task);
  size_t at = 1;
  for (const TranscriptStep& step : run.transcript) {
    if (step.outcome == StepOutcome::kModelError) continue;  // nothing was said
    ASSERT_LT(at, run.conversation.size()) << "step " << step.number;
    EXPECT_EQ(run.conversation[at].role, Role::kAssistant) << "step " << step.number;
    EXPECT_EQ(run.conversation[at].content, step.model_output) << "step " << step.number;
    ++at;
    if (!step.feedback.empty()) {
      ASSERT_LT(at, run.conversation.size()) << "step " << step.number;
      EXPECT_EQ(run.conversation[at].role, Role::kTool) << "step " << step.number;
      EXPECT_EQ(run.conversation[at].content, step.feedback) << "step " << step.number;
      ++at;
    }
  }
  EXPECT_EQ(at, run.conversation.size()) << "messages the transcript does not account for";
}

// ---------------------------------------------------------------------------------
// Step 8: parse a model turn.

TEST(Step8_ParseAction, ParsesACall) {
  const absl::StatusOr<Action> a = ParseAction("CALL add(2, 3)");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, ActionKind::kToolCall);
  EXPECT_EQ(a->tool, "add");
  EXPECT_EQ(a->argument, "2, 3");
}

TEST(Step8_ParseAction, ParsesAnAnswer) {
  const absl::StatusOr<Action> a = ParseAction("ANSWER:   5 apples \t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, ActionKind::kAnswer);
  EXPECT_EQ(a->answer, "5 apples");
  const absl::StatusOr<Action> empty = ParseAction("ANSWER:");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->answer, "");
}

TEST(Step8_ParseAction, IgnoresThoughtsAroundTheAction) {
  const absl::StatusOr<Action> a =
      ParseAction("I should add them first.\nCALL add(2, 3)\r\nThen I will answer.");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->tool, "add");
  EXPECT_EQ(a->argument, "2, 3");
  const absl::StatusOr<Action> b = ParseAction("Thinking...\n\nANSWER: 42\n");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->answer, "42");
}

TEST(Step8_ParseAction, ArgumentIsEverythingBetweenTheParentheses) {
  absl::StatusOr<Action> a = ParseAction("CALL calc((1 + 2) * 3)");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->argument, "(1 + 2) * 3");
  a = ParseAction("CALL now()");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->tool, "now");
  EXPECT_EQ(a->argument, "");
  a = ParseAction("CALL echo(  spaced  )   ");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->argument, "  spaced  ") << "the argument is not trimmed";
  a = ParseAction("CALL search_web_2(ANSWER: is not an action here)");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->tool, "search_web_2");
}

TEST(Step8_ParseAction, NoActionIsMalformed) {
  for (const char* turn : {"", "The answer is 5.", "call add(1, 2)", "  CALL add(1, 2)",
                           "Answer: 5", "CALLING add(1)"}) {
    const absl::StatusOr<Action> a = ParseAction(turn);
    ASSERT_FALSE(a.ok()) << "\"" << turn << "\" holds no action";
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find("no action"), absl::string_view::npos)
        << a.status();
  }
}

TEST(Step8_ParseAction, TwoActionsAreMalformed) {
  const absl::StatusOr<Action> a = ParseAction("CALL add(1, 2)\nthinking\nANSWER: 3");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("2 actions"), absl::string_view::npos) << a.status();
  EXPECT_NE(a.status().message().find("1, 3"), absl::string_view::npos)
      << "the message names the lines: " << a.status();
}

TEST(Step8_ParseAction, MalformedCallsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"CALL", "one space"},
      {"CALL(2, 3)", "one space"},
      {"CALL  add(2, 3)", "tool name"},
      {"CALL (2, 3)", "tool name"},
      {"CALL add-one(2)", "'('"},
      {"CALL add 2, 3", "'('"},
      {"CALL add", "'('"},
      {"CALL add(2, 3", "')'"},
      {"CALL add(2, 3) please", "')'"},
      {"CALL " + std::string(65, 'x') + "(1)", "64"},
  };
  for (const auto& [turn, must_mention] : cases) {
    const absl::StatusOr<Action> a = ParseAction(turn);
    ASSERT_FALSE(a.ok()) << "\"" << turn << "\" must not parse";
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << turn;
    EXPECT_NE(a.status().message().find(must_mention), absl::string_view::npos)
        << "\"" << turn << "\": " << a.status() << " should mention " << must_mention;
    EXPECT_NE(a.status().message().find("line 1"), absl::string_view::npos) << a.status();
  }
}

TEST(Step8_ParseAction, GarbageNeverCrashes) {
  Rng rng(1108);
  for (int trial = 0; trial < 500; ++trial) {
    std::string turn;
    const int length = static_cast<int>(rng.Below(80));
    for (int i = 0; i < length; ++i) {
      // Mostly the characters that matter to the parser, and any byte now and then.
      static constexpr char kAlphabet[] = "CALNSWER: ()_\n\rax1\t";
      turn.push_back(rng.Below(10) == 0 ? static_cast<char>(rng.Below(256))
                                        : kAlphabet[rng.Below(sizeof(kAlphabet) - 1)]);
    }
    if (rng.Below(4) == 0) turn = "CALL " + turn;
    const absl::StatusOr<Action> a = ParseAction(turn);
    if (a.ok() && a->kind == ActionKind::kToolCall) {
      EXPECT_FALSE(a->tool.empty());
      EXPECT_LE(a->tool.size(), 64u);
    } else if (!a.ok()) {
      EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

// ---------------------------------------------------------------------------------
// Step 9: tools, a registry, and a time limit per call.

TEST(Step9_Tools, RegistryFindsRegisteredToolsAndListsThemSorted) {
  const ToolRegistry tools = StandardTools();
  EXPECT_EQ(tools.Names(), (std::vector<std::string>{"add", "echo", "hang", "throws"}));
  ASSERT_NE(tools.Find("add"), nullptr);
  const CancellationToken token;
  EXPECT_EQ((*tools.Find("add"))("2,3", token).value(), "5");
  EXPECT_EQ(tools.Find("ad"), nullptr);
  EXPECT_EQ(tools.Find("ADD"), nullptr);
}

TEST(Step9_Tools, RegistryRejectsBadRegistrations) {
  ToolRegistry tools;
  tools.Register("echo", Echo);
  EXPECT_INVALID_ARGUMENT(tools.Register("echo", Echo), {"echo", "already"});
  EXPECT_INVALID_ARGUMENT(tools.Register("", Echo), {"name"});
  EXPECT_INVALID_ARGUMENT(tools.Register("two words", Echo), {"two words"});
  EXPECT_INVALID_ARGUMENT(tools.Register(std::string(65, 'a'), Echo), {"64"});
  EXPECT_INVALID_ARGUMENT(tools.Register("empty", ToolFunction()), {"empty"});
  EXPECT_EQ(tools.Names(), std::vector<std::string>{"echo"});
}

// 64 characters is the longest name, both when registering and when the model calls it;
// a check written with < 64 (or a parser that stops at 63) rejects it.
TEST(Step9_Tools, ANameOfExactlyTheMaximumLengthIsRegisteredAndCalled) {
  const std::string longest(64, 'n');
  ToolRegistry tools;
  ASSERT_NO_THROW(tools.Register(longest, Echo));
  EXPECT_INVALID_ARGUMENT(tools.Register(longest + "n", Echo), {"64"});
  EXPECT_EQ(tools.Names(), std::vector<std::string>{longest});
  const absl::StatusOr<Action> a = ParseAction("CALL " + longest + "(hi)");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, ActionKind::kToolCall);
  EXPECT_EQ(a->tool, longest);
  const absl::StatusOr<Action> too_long = ParseAction("CALL " + longest + "n(hi)");
  EXPECT_FALSE(too_long.ok());
  ScriptedModel model({"CALL " + longest + "(hi)", "ANSWER: done"});
  SystemClock clock;
  AgentOptions options;
  options.max_steps = 3;
  const AgentRun run = RunAgent(model, tools, "Echo.", options, clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolResult);
  EXPECT_EQ(run.transcript[0].tool, longest);
}

TEST(Step9_Tools, RunToolReturnsTheResult) {
  const ToolRegistry tools = StandardTools();
  const absl::StatusOr<std::string> r = RunTool(tools, "add", "2, 3, 10", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "15");
}

TEST(Step9_Tools, UnknownToolIsNotFoundAndListsTheTools) {
  const ToolRegistry tools = StandardTools();
  const absl::StatusOr<std::string> r = RunTool(tools, "frobnicate", "", absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  const std::string message(r.status().message());
  EXPECT_NE(message.find("unknown tool \"frobnicate\""), std::string::npos) << message;
  EXPECT_NE(message.find("add, echo, hang, throws"), std::string::npos) << message;
  const absl::StatusOr<std::string> none = RunTool(ToolRegistry(), "x", "", absl::Seconds(5));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("none"), absl::string_view::npos) << none.status();
}

TEST(Step9_Tools, ToolErrorsKeepTheirCodeAndNameTheTool) {
  const ToolRegistry tools = StandardTools();
  const absl::StatusOr<std::string> r = RunTool(tools, "add", "two, three", absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "tool \"add\": add expects integers separated by commas");
}

TEST(Step9_Tools, AThrowingToolBecomesAnInternalError) {
  const ToolRegistry tools = StandardTools();
  const absl::StatusOr<std::string> r = RunTool(tools, "throws", "", absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "tool \"throws\": threw: disk on fire");
  const ToolFunction throws_int = [](const std::string&,
                                     const CancellationToken&) -> absl::StatusOr<std::string> {
    throw 42;
  };
  const absl::StatusOr<std::string> odd = RunWithTimeLimit(throws_int, "", absl::Seconds(5));
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(odd.status().message().find("non-standard"), absl::string_view::npos)
      << odd.status();
}

TEST(Step9_Tools, AHangingToolTimesOutAndIsCancelled) {
  auto saw_cancel = std::make_shared<std::atomic<bool>>(false);
  const absl::StatusOr<std::string> r =
      RunWithTimeLimit(HangUntilCancelled(saw_cancel), "", kShortLimit);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "timed out after 100ms");
  // The tool sees its token within a few milliseconds; 5 s is for a loaded machine.
  const auto start = steady_clock::now();
  while (!saw_cancel->load() && SecondsSince(start) < 5.0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(saw_cancel->load()) << "the token of a timed-out call must be cancelled";
}

TEST(Step9_Tools, AToolThatIgnoresItsTokenDoesNotBlockTheCaller) {
  ToolRegistry tools;
  tools.Register("stubborn", Stubborn);
  const auto start = steady_clock::now();
  const absl::StatusOr<std::string> r = RunTool(tools, "stubborn", "", kShortLimit);
  // The tool sleeps 3 s; the call must come back after about 0.1 s. Joining the thread
  // (or a std::async future, whose destructor joins) would take the full 3 s.
  EXPECT_LT(SecondsSince(start), 2.0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "tool \"stubborn\": timed out after 100ms");
}

TEST(Step9_Tools, AFastToolDoesNotWaitForTheLimit) {
  const ToolRegistry tools = StandardTools();
  const auto start = steady_clock::now();
  const absl::StatusOr<std::string> r = RunTool(tools, "echo", "hi", absl::Seconds(8));
  EXPECT_LT(SecondsSince(start), 4.0) << "the result is returned as soon as it is ready";
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "hi");
}

TEST(Step9_Tools, AnAbandonedToolMayOutliveItsRegistry) {
  auto saw_cancel = std::make_shared<std::atomic<bool>>(false);
  {
    ToolRegistry tools;
    tools.Register("hang", HangUntilCancelled(saw_cancel));
    const absl::StatusOr<std::string> r = RunTool(tools, "hang", "", kShortLimit);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  }  // the registry dies here while the worker may still run its copy of the tool
  const auto start = steady_clock::now();
  while (!saw_cancel->load() && SecondsSince(start) < 5.0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(saw_cancel->load());
}

TEST(Step9_Tools, RejectsBadArguments) {
  const ToolRegistry tools = StandardTools();
  EXPECT_INVALID_ARGUMENT(RunTool(tools, "echo", "", absl::ZeroDuration()), {"time_limit"});
  EXPECT_INVALID_ARGUMENT(RunWithTimeLimit(Echo, "", absl::Milliseconds(-5)),
                          {"time_limit", "-5ms"});
  EXPECT_INVALID_ARGUMENT(RunWithTimeLimit(ToolFunction(), "", absl::Seconds(1)), {"tool"});
}

// ---------------------------------------------------------------------------------
// Step 10: the agent loop.

AgentOptions FastOptions() {
  AgentOptions options;
  options.max_steps = 5;
  options.time_budget = absl::Seconds(60);
  options.tool_time_limit = absl::Seconds(5);
  return options;
}

TEST(Step10_AgentLoop, AWellBehavedModelCallsAToolThenAnswers) {
  FakeClock clock;
  ScriptedModel model({"I need to add.\nCALL add(2, 3)", "ANSWER: 5"}, &clock,
                      absl::Seconds(1));
  const AgentRun run =
      RunAgent(model, StandardTools(), "What is 2 + 3?", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  EXPECT_EQ(run.answer, "5");
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[0].number, 1);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolResult);
  EXPECT_EQ(run.transcript[0].tool, "add");
  EXPECT_EQ(run.transcript[0].argument, "2, 3");
  EXPECT_TRUE(run.transcript[0].status.ok());
  EXPECT_EQ(run.transcript[0].feedback, "RESULT: 5");
  EXPECT_EQ(run.transcript[0].elapsed, absl::Seconds(1)) << "by the injected clock";
  EXPECT_EQ(run.transcript[1].number, 2);
  EXPECT_EQ(run.transcript[1].outcome, StepOutcome::kAnswered);
  EXPECT_EQ(run.transcript[1].feedback, "");
  ASSERT_EQ(run.conversation.size(), 4u);
  ExpectConversationMatchesTranscript(run, "What is 2 + 3?");
}

TEST(Step10_AgentLoop, TheModelSeesTheToolResultOnItsNextTurn) {
  ScriptedModel model({"CALL echo(ping)", "ANSWER: pong"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Say ping.", FastOptions(), clock);
  ASSERT_EQ(model.calls(), 2);
  ASSERT_EQ(model.seen(0).size(), 1u) << "turn 1 sees only the task";
  const std::vector<Message>& second = model.seen(1);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[1].role, Role::kAssistant);
  EXPECT_EQ(second[1].content, "CALL echo(ping)");
  EXPECT_EQ(second[2].role, Role::kTool);
  EXPECT_EQ(second[2].content, "RESULT: ping");
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
}

TEST(Step10_AgentLoop, AModelThatNeverStopsHitsTheStepBudget) {
  ScriptedModel model({"CALL echo(again)"});
  SystemClock clock;
  AgentOptions options = FastOptions();
  options.max_steps = 7;
  const AgentRun run = RunAgent(model, StandardTools(), "Loop.", options, clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kStepBudget);
  EXPECT_EQ(model.calls(), 7);
  ASSERT_EQ(run.transcript.size(), 7u);
  for (const TranscriptStep& step : run.transcript) {
    EXPECT_EQ(step.outcome, StepOutcome::kToolResult) << "step " << step.number;
  }
  EXPECT_TRUE(run.answer.empty());
  ExpectConversationMatchesTranscript(run, "Loop.");
}

TEST(Step10_AgentLoop, UnknownToolsAreReportedToTheModel) {
  ScriptedModel model({"CALL frobnicate(x)", "CALL add(1, 1)", "ANSWER: 2"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Add.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  ASSERT_EQ(run.transcript.size(), 3u);
  const TranscriptStep& first = run.transcript[0];
  EXPECT_EQ(first.outcome, StepOutcome::kUnknownTool);
  EXPECT_EQ(first.tool, "frobnicate");
  EXPECT_EQ(first.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(first.feedback,
            "ERROR: unknown tool \"frobnicate\"; available tools: add, echo, hang, throws");
  EXPECT_EQ(run.transcript[1].outcome, StepOutcome::kToolResult);
  EXPECT_EQ(run.transcript[1].feedback, "RESULT: 2");
  ExpectConversationMatchesTranscript(run, "Add.");
}

TEST(Step10_AgentLoop, GarbageIsAnsweredWithTheParseError) {
  ScriptedModel model({"%$#@!\n\x01\x02", "CALL add(1, 2", "ANSWER: 3"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Add.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  ASSERT_EQ(run.transcript.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const TranscriptStep& step = run.transcript[static_cast<size_t>(i)];
    EXPECT_EQ(step.outcome, StepOutcome::kMalformed) << "step " << step.number;
    EXPECT_EQ(step.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(step.feedback, "ERROR: " + std::string(step.status.message()));
  }
  EXPECT_NE(run.transcript[0].feedback.find("no action"), std::string::npos);
  EXPECT_NE(run.transcript[1].feedback.find("')'"), std::string::npos);
  ExpectConversationMatchesTranscript(run, "Add.");
}

TEST(Step10_AgentLoop, GarbageForeverHitsTheStepBudget) {
  ScriptedModel model({"lorem ipsum"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "?", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kStepBudget);
  EXPECT_EQ(run.transcript.size(), 5u);
  EXPECT_EQ(run.transcript.back().outcome, StepOutcome::kMalformed);
}

TEST(Step10_AgentLoop, AThrowingToolIsAnErrorNotACrash) {
  ScriptedModel model({"CALL throws()", "ANSWER: gave up"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Try.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolError);
  EXPECT_EQ(run.transcript[0].status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(run.transcript[0].feedback, "ERROR: tool \"throws\": threw: disk on fire");
}

TEST(Step10_AgentLoop, AToolErrorIsReportedToTheModel) {
  ScriptedModel model({"CALL add(two, three)", "ANSWER: ?"});
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Add.", FastOptions(), clock);
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolError);
  EXPECT_EQ(run.transcript[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run.transcript[0].feedback,
            "ERROR: tool \"add\": add expects integers separated by commas");
}

TEST(Step10_AgentLoop, AHangingToolTimesOutAndTheLoopGoesOn) {
  ScriptedModel model({"CALL hang()", "CALL hang()", "ANSWER: the tool is broken"});
  SystemClock clock;
  AgentOptions options = FastOptions();
  options.tool_time_limit = kShortLimit;
  const auto start = steady_clock::now();
  const AgentRun run = RunAgent(model, StandardTools(), "Use hang.", options, clock);
  EXPECT_LT(SecondsSince(start), 5.0) << "two 100 ms timeouts; the hung tools are abandoned";
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  ASSERT_EQ(run.transcript.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const TranscriptStep& step = run.transcript[static_cast<size_t>(i)];
    EXPECT_EQ(step.outcome, StepOutcome::kToolTimedOut) << "step " << step.number;
    EXPECT_EQ(step.status.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(step.feedback, "ERROR: tool \"hang\": timed out after 100ms");
  }
}

TEST(Step10_AgentLoop, AHangingToolCannotOverrunTheTimeBudget) {
  // Real clock: a 250 ms budget, 100 ms per call, a model that calls the hung tool
  // forever and a step budget it could never reach in that time.
  ScriptedModel model({"CALL hang()"});
  SystemClock clock;
  AgentOptions options;
  options.max_steps = 1000;
  options.time_budget = absl::Milliseconds(250);
  options.tool_time_limit = kShortLimit;
  const AgentRun run = RunAgent(model, StandardTools(), "Use hang.", options, clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kTimeBudget);
  EXPECT_LT(run.transcript.size(), 20u);
  for (const TranscriptStep& step : run.transcript) {
    EXPECT_TRUE(step.outcome == StepOutcome::kToolTimedOut ||
                step.outcome == StepOutcome::kOutOfTime)
        << "step " << step.number;
  }
}

TEST(Step10_AgentLoop, TheTimeBudgetIsReadFromTheClock) {
  // Each tool call takes 40 s of fake time: after two calls (80 s) the 60 s budget is
  // spent, and the loop stops before a third turn.
  // The tool shares ownership of the clock: a tool must own what it touches.
  auto clock = std::make_shared<FakeClock>();
  ToolRegistry tools;
  tools.Register("slow", [clock](const std::string&,
                                 const CancellationToken&) -> absl::StatusOr<std::string> {
    clock->Advance(absl::Seconds(40));
    return std::string("done");
  });
  ScriptedModel model({"CALL slow()"});
  const AgentRun run = RunAgent(model, tools, "Be slow.", FastOptions(), *clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kTimeBudget);
  EXPECT_EQ(model.calls(), 2);
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolResult);
  EXPECT_EQ(run.transcript[0].elapsed, absl::Seconds(40));
  EXPECT_EQ(run.transcript[1].outcome, StepOutcome::kToolResult);
}

TEST(Step10_AgentLoop, ACallAtOrAfterTheDeadlineIsNotRun) {
  // The model's turn takes 70 s of a 60 s budget, or exactly the 60 s (no time left):
  // its call is recorded, not run.
  for (const absl::Duration turn : {absl::Seconds(70), absl::Seconds(60)}) {
    SCOPED_TRACE(::testing::Message() << "turn " << turn);
    FakeClock clock;
    ScriptedModel model({"CALL echo(x)"}, &clock, turn);
    const AgentRun run = RunAgent(model, StandardTools(), "Hurry.", FastOptions(), clock);
    EXPECT_EQ(run.stop_reason, AgentStop::kTimeBudget);
    ASSERT_EQ(run.transcript.size(), 1u);
    EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kOutOfTime);
    EXPECT_EQ(run.transcript[0].tool, "echo");
    EXPECT_EQ(run.transcript[0].status.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(run.transcript[0].elapsed, turn);
  }
}

TEST(Step10_AgentLoop, NoTurnStartsExactlyAtTheDeadline) {
  // Two turns of free text take 30 s each: the clock reads start + 60 s, exactly the
  // budget, when the third turn would start. The budget is spent when the clock has
  // reached the deadline, so the model is not asked again (a check with > runs it).
  FakeClock clock;
  ScriptedModel model({"thinking"}, &clock, absl::Seconds(30));
  const AgentRun run = RunAgent(model, StandardTools(), "Think.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kTimeBudget);
  EXPECT_EQ(model.calls(), 2);
  EXPECT_EQ(run.transcript.size(), 2u);
}

TEST(Step10_AgentLoop, AnAnswerAfterTheDeadlineIsAccepted) {
  FakeClock clock;
  ScriptedModel model({"ANSWER: late but right"}, &clock, absl::Seconds(90));
  const AgentRun run = RunAgent(model, StandardTools(), "Answer.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kAnswered);
  EXPECT_EQ(run.answer, "late but right");
}

TEST(Step10_AgentLoop, TheToolLimitIsCappedByTheTimeLeft) {
  // 59.9 s of the 60 s budget go to the model's turn; the hung tool then gets the
  // 100 ms left, not its 30 s limit.
  FakeClock clock;
  ScriptedModel model({"CALL hang()"}, &clock, absl::Milliseconds(59900));
  AgentOptions options = FastOptions();
  options.tool_time_limit = absl::Seconds(30);
  const auto start = steady_clock::now();
  const AgentRun run = RunAgent(model, StandardTools(), "Hang.", options, clock);
  EXPECT_LT(SecondsSince(start), 10.0) << "a 30 s wait means the limit was not capped";
  ASSERT_GE(run.transcript.size(), 1u);
  EXPECT_EQ(run.transcript[0].outcome, StepOutcome::kToolTimedOut);
  EXPECT_EQ(run.transcript[0].feedback, "ERROR: tool \"hang\": timed out after 100ms");
  EXPECT_EQ(run.stop_reason, AgentStop::kTimeBudget);
}

TEST(Step10_AgentLoop, AModelErrorEndsTheRunAndIsRecorded) {
  FunctionModel model([](int turn) -> absl::StatusOr<std::string> {
    if (turn == 0) return std::string("CALL echo(1)");
    return absl::UnavailableError("the model server is down");
  });
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Go.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kModelError);
  EXPECT_EQ(model.calls(), 2);
  ASSERT_EQ(run.transcript.size(), 2u);
  EXPECT_EQ(run.transcript[1].outcome, StepOutcome::kModelError);
  EXPECT_EQ(run.transcript[1].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(run.transcript[1].model_output.empty());
  ExpectConversationMatchesTranscript(run, "Go.");
}

TEST(Step10_AgentLoop, AThrowingModelIsAModelError) {
  FunctionModel model([](int) -> absl::StatusOr<std::string> {
    throw std::runtime_error("out of memory in the tokenizer");
  });
  SystemClock clock;
  const AgentRun run = RunAgent(model, StandardTools(), "Go.", FastOptions(), clock);
  EXPECT_EQ(run.stop_reason, AgentStop::kModelError);
  ASSERT_EQ(run.transcript.size(), 1u);
  EXPECT_EQ(run.transcript[0].status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(run.transcript[0].status.message().find("out of memory in the tokenizer"),
            absl::string_view::npos);
}

TEST(Step10_AgentLoop, RandomMisbehaviourAlwaysEndsWithAReason) {
  // Models that mix good calls, unknown tools, garbage, double actions and answers.
  const std::vector<std::string> menu = {
      "CALL add(1, 2)", "CALL echo(hello)", "CALL nope(1)", "CALL throws()", "#!garbage",
      "CALL add(1", "CALL echo(a)\nCALL echo(b)", "", "ANSWER: 42"};
  const ToolRegistry tools = StandardTools();
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Rng rng(seed);
    FunctionModel model([&](int) -> absl::StatusOr<std::string> {
      // Answers are rare, so that many runs end on the step budget.
      const std::uint64_t pick = rng.Below(menu.size() * 3);
      return pick < menu.size() ? menu[pick] : menu[rng.Below(menu.size() - 1)];
    });
    SystemClock clock;
    AgentOptions options = FastOptions();
    options.max_steps = 12;
    const AgentRun run = RunAgent(model, tools, "Chaos.", options, clock);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    ASSERT_FALSE(run.transcript.empty());
    EXPECT_LE(run.transcript.size(), 12u);
    EXPECT_EQ(static_cast<int>(run.transcript.size()), model.calls());
    if (run.stop_reason == AgentStop::kAnswered) {
      EXPECT_EQ(run.transcript.back().outcome, StepOutcome::kAnswered);
      EXPECT_EQ(run.answer, "42");
    } else {
      EXPECT_EQ(run.stop_reason, AgentStop::kStepBudget);
      EXPECT_EQ(run.transcript.size(), 12u);
    }
    for (size_t i = 0; i < run.transcript.size(); ++i) {
      EXPECT_EQ(run.transcript[i].number, static_cast<int>(i) + 1);
    }
    ExpectConversationMatchesTranscript(run, "Chaos.");
  }
}

TEST(Step10_AgentLoop, RejectsBadOptions) {
  ScriptedModel model({"ANSWER: 1"});
  SystemClock clock;
  const ToolRegistry tools = StandardTools();
  AgentOptions options = FastOptions();
  options.max_steps = 0;
  EXPECT_INVALID_ARGUMENT(RunAgent(model, tools, "x", options, clock), {"max_steps", "0"});
  options = FastOptions();
  options.time_budget = absl::ZeroDuration();
  EXPECT_INVALID_ARGUMENT(RunAgent(model, tools, "x", options, clock), {"time_budget", "0"});
  options = FastOptions();
  options.tool_time_limit = absl::Seconds(-1);
  EXPECT_INVALID_ARGUMENT(RunAgent(model, tools, "x", options, clock),
                          {"tool_time_limit", "-1s"});
  EXPECT_EQ(model.calls(), 0) << "options are checked before the model is called";
}

}  // namespace
}  // namespace llmk::harness
