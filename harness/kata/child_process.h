// Runs a program that is not trusted to behave (a learner's test binary, a build)
// as a child process and always gets control back: a wall-clock limit, a cap on
// the output it may write, an address-space limit, a file-size limit, no core
// dumps. The child gets its own process group; when it ends, or is killed, the
// whole group is killed with SIGKILL and reaped. The harness is a child
// subreaper, so a descendant that left the group (setsid(), a double fork) comes
// back to it as a child when its parent dies; after each run every such
// process is killed and reaped too, until none is left. So nothing the child
// started outlives RunChild, except a process that stopped being a descendant
// (started through another service, or re-parented after the harness itself
// was killed with SIGKILL).
//
//   ChildSpec spec;
//   spec.argv = {"/path/02_attention_test", "--gtest_list_tests"};
//   spec.timeout = std::chrono::seconds(20);
//   ChildOutcome outcome = RunChild(spec);
//   if (outcome.end == ChildEnd::kTimedOut) ...
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmk::kata {

struct ChildSpec {
  // argv[0] is a path, or a name looked up in PATH ("cmake").
  std::vector<std::string> argv;
  // Variables set for the child, on top of the harness's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Variables of the harness's environment whose name starts with one of these
  // are not passed on (e.g. "GTEST_", so that a shell's settings do not change
  // how a test binary runs).
  std::vector<std::string> env_drop_prefixes;
  // Working directory of the child; empty = the harness's.
  std::string working_dir;
  // Wall-clock limit; none = wait as long as it takes.
  std::optional<std::chrono::milliseconds> timeout;
  // More output than this (stdout and stderr together) kills the child.
  std::optional<std::size_t> flood_limit_bytes;
  // How much of the output is kept: the first `keep_head_bytes` and the last
  // `keep_tail_bytes`.
  std::size_t keep_head_bytes = std::size_t{64} << 10;
  std::size_t keep_tail_bytes = std::size_t{16} << 10;
  // RLIMIT_AS of the child; none = inherited.
  std::optional<std::uint64_t> address_space_limit_bytes;
  // RLIMIT_FSIZE of the child: writing a file past this size kills it with
  // SIGXFSZ. None = inherited.
  std::optional<std::uint64_t> file_size_limit_bytes;
};

// The largest file a learner's test binary may write (its reports are a few KiB).
inline constexpr std::uint64_t kDefaultFileSizeLimitBytes = std::uint64_t{1} << 30;  // 1 GiB

enum class ChildEnd {
  kExited,         // exited by itself; see exit_code
  kSignaled,       // killed by a signal it did not get from us; see signal
  kTimedOut,       // still running at the time limit; killed
  kFlooded,        // wrote more than the flood limit; killed
  kFailedToStart,  // fork or exec failed; see start_error
};

struct ChildOutcome {
  ChildEnd end = ChildEnd::kFailedToStart;
  int exit_code = -1;  // when end == kExited
  int signal = 0;      // when end == kSignaled
  std::string start_error;
  // stdout and stderr, interleaved as written. When more than the kept head and
  // tail arrived, `output` is the head, a marker line, then the tail.
  std::string output;
  std::string output_head;  // the first keep_head_bytes, alone
  std::size_t output_bytes = 0;
  bool output_truncated = false;
  std::chrono::milliseconds elapsed{0};
};

// Runs spec.argv to its end or to one of the limits, then kills and reaps
// every process the run left behind (see the top of this file). Never throws
// for what the child does; a failure to start is reported in the outcome. Not
// for use from several threads at once: the processes that became children of
// the harness during a run are taken to be that run's.
ChildOutcome RunChild(const ChildSpec& spec);

// "SIGSEGV" for SIGSEGV, "signal 42" for a signal without a common name.
std::string SignalName(int signal);

// "exit code 3", "SIGABRT", "timed out", ... for messages.
std::string DescribeEnd(const ChildOutcome& outcome);

}  // namespace llmk::kata
