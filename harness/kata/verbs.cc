#include "verbs.h"

#include <fmt/format.h>

namespace llmk::kata {

RunOptions Context::MakeRunOptions() const {
  RunOptions options;
  options.timeout_seconds = timeout_seconds;
  options.memory_limit_bytes = memory_limit_bytes;
  return options;
}

BuildFunction Context::Builder() const { return build ? build : CmakeBuilder(build_dir, jobs); }

void PrintError(const Context& ctx, std::string_view message) {
  fmt::print(ctx.err, "kata: {}\n", message);
  std::fflush(ctx.err);
}

void PrintError(const Context& ctx, const absl::Status& status) {
  const std::string message(status.message());
  PrintError(ctx, message);
}

void PrintProgress(const Context& ctx, std::string_view line) {
  fmt::print(ctx.err, "{}\n", Style::For(ctx.err).Dim(line));
  std::fflush(ctx.err);
}

}  // namespace llmk::kata
