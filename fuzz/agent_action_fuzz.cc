// Fuzz target: ParseAction of kata 11 (solutions/11_harness/agent.cc) on arbitrary model
// output.
//
//   - Any text gives an Action or InvalidArgument with a message; nothing throws.
//   - A parsed call has a tool name of 1 to 64 characters of [A-Za-z0-9_], and the
//     turn holds the line "CALL tool(argument)" (up to trailing '\r', spaces and tabs);
//     a parsed answer comes from a line starting "ANSWER:" and is trimmed.
//   - A well-formed call built from the input (a name from its bytes, the rest as the
//     argument, after a line of free text) parses back to that name and argument; a
//     well-formed answer parses back to its trimmed text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent.h"
#include "check.h"

namespace {

using llmk::harness::Action;
using llmk::harness::ActionKind;

std::string_view TrimRight(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return line;
}

std::string_view TrimBoth(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t newline = text.find('\n', start);
    lines.push_back(TrimRight(text.substr(start, newline - start)));
    if (newline == std::string_view::npos) break;
    start = newline + 1;
  }
  return lines;
}

bool IsToolName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void CheckArbitrary(std::string_view text) {
  const absl::StatusOr<Action> action = llmk::harness::ParseAction(text);
  if (!action.ok()) {
    FUZZ_CHECK(action.status().code() == absl::StatusCode::kInvalidArgument,
               "ParseAction failed with {}", action.status().ToString());
    FUZZ_CHECK(!action.status().message().empty(), "an error without a message");
    return;
  }
  const std::vector<std::string_view> lines = Lines(text);
  if (action->kind == ActionKind::kToolCall) {
    FUZZ_CHECK(IsToolName(action->tool), "tool name \"{}\" is not [A-Za-z0-9_]{{1,64}}",
               action->tool);
    const std::string call = "CALL " + action->tool + "(" + action->argument + ")";
    bool found = false;
    for (std::string_view line : lines) found = found || line == call;
    FUZZ_CHECK(found, "no line of the turn is \"{}\"", call);
  } else {
    bool found = false;
    for (std::string_view line : lines) {
      found = found || (line.starts_with("ANSWER:") && TrimBoth(line.substr(7)) == action->answer);
    }
    FUZZ_CHECK(found, "no line of the turn answers \"{}\"", action->answer);
  }
}

void CheckWellFormed(std::string_view bytes) {
  if (bytes.empty()) return;
  constexpr std::string_view kNameChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
  const std::size_t name_length =
      std::min<std::size_t>(1 + static_cast<unsigned char>(bytes[0]) % 64, bytes.size());
  std::string name;
  for (std::size_t i = 0; i < name_length; ++i) {
    name += kNameChars[static_cast<unsigned char>(bytes[i]) % kNameChars.size()];
  }
  std::string argument;
  for (char c : bytes.substr(name_length)) {
    if (c != '\n') argument += c;
  }
  const std::string turn = "Let me think.\nCALL " + name + "(" + argument + ")" + " \t\r\n";
  const absl::StatusOr<Action> call = llmk::harness::ParseAction(turn);
  FUZZ_CHECK(call.ok(), "a well-formed call failed: {}", call.status().ToString());
  FUZZ_CHECK(call->kind == ActionKind::kToolCall, "a call parsed as an answer");
  FUZZ_CHECK(call->tool == name, "tool \"{}\" parsed as \"{}\"", name, call->tool);
  FUZZ_CHECK(call->argument == argument, "argument \"{}\" parsed as \"{}\"", argument,
             call->argument);

  std::string text = argument;
  std::erase(text, '\r');
  const absl::StatusOr<Action> answer =
      llmk::harness::ParseAction("thinking\nANSWER:" + text + "\nthat is all");
  FUZZ_CHECK(answer.ok(), "a well-formed answer failed: {}", answer.status().ToString());
  FUZZ_CHECK(answer->kind == ActionKind::kAnswer, "an answer parsed as a call");
  FUZZ_CHECK(answer->answer == TrimBoth(text), "answer \"{}\" parsed as \"{}\"", TrimBoth(text),
             answer->answer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckArbitrary(text);
  CheckWellFormed(text);
  return 0;
}
