// Checks that a run left no process behind.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>

namespace llmk::kata::testing {

// True if this test process has no child at all, running or zombie. The
// harness makes itself a subreaper, so every orphaned descendant of a run
// would be a child of ours: none left = nothing survived.
inline bool NoChildProcessLeft() { return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// True if no process with this pid exists (not even a zombie).
inline bool ProcessIsGone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

}  // namespace llmk::kata::testing
