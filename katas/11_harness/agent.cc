// Your implementation of agent.h (steps 8 to 10). Replace each
// `throw llmk::NotImplemented(...)` with the step's code; README.md derives every step,
// HINTS.md helps when stuck. Run `./kata test 11 --step 8` after each change.
//
// Two kinds of errors: a caller's contract violation throws llmk::InvalidArgument
// (llmk::Require in llmk/core.h); whatever a model or a tool does wrong is returned as
// an absl::Status and never thrown.
#include "agent.h"

#include "llmk/core.h"

namespace llmk::harness {

// Step 8: find the one action line of a turn, then parse it strictly.
absl::StatusOr<Action> ParseAction(std::string_view model_output) {
  throw NotImplemented("ParseAction");
}

// Step 9: check the name and the function, then store it.
void ToolRegistry::Register(const std::string& name, ToolFunction run) {
  throw NotImplemented("ToolRegistry::Register");
}

// Step 9: the stored function, or nullptr.
const ToolFunction* ToolRegistry::Find(std::string_view name) const {
  throw NotImplemented("ToolRegistry::Find");
}

// Step 9: every name, sorted.
std::vector<std::string> ToolRegistry::Names() const {
  throw NotImplemented("ToolRegistry::Names");
}

// Step 9: a detached thread that owns copies of what it uses, and a bounded wait.
absl::StatusOr<std::string> RunWithTimeLimit(const ToolFunction& tool,
                                             const std::string& argument,
                                             absl::Duration time_limit) {
  throw NotImplemented("RunWithTimeLimit");
}

// Step 9: Find, RunWithTimeLimit, and the tool's name in every error.
absl::StatusOr<std::string> RunTool(const ToolRegistry& tools, std::string_view name,
                                    const std::string& argument, absl::Duration time_limit) {
  throw NotImplemented("RunTool");
}

// Step 10: turns until an answer, a model error, or a budget runs out.
AgentRun RunAgent(ChatModel& model, const ToolRegistry& tools, const std::string& task,
                  const AgentOptions& options, Clock& clock) {
  throw NotImplemented("RunAgent");
}

}  // namespace llmk::harness
