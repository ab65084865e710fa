// Checks that a run left no process behind.
//
//   EXPECT_TRUE(testing::NoChildProcessLeft());
//   EXPECT_THAT(testing::ProcessesWithEnvironment("MARKER=run-42"), IsEmpty());
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace llmk::kata::testing {

// True if this test process has no child at all, running or zombie. The
// harness makes itself a subreaper, so every orphaned descendant of a run
// would be a child of ours: none left = nothing survived.
inline bool NoChildProcessLeft() { return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// True if no process with this pid exists (not even a zombie).
inline bool ProcessIsGone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

// The pids of the living processes whose environment holds `entry`
// ("NAME=VALUE"), from /proc/PID/environ. Whoever they are descended from, a
// process started with that variable (and every process it started, unless it
// cleared its environment) is found.
inline std::vector<pid_t> ProcessesWithEnvironment(std::string_view entry) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (const dirent* item = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(item->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream environ_file("/proc/" + std::string(item->d_name) + "/environ", std::ios::binary);
    const std::string environ_text((std::istreambuf_iterator<char>(environ_file)),
                                   std::istreambuf_iterator<char>());
    std::string_view rest = environ_text;
    while (!rest.empty()) {
      const std::size_t nul = rest.find('\0');
      if (rest.substr(0, nul) == entry) {
        found.push_back(static_cast<pid_t>(pid));
        break;
      }
      if (nul == std::string_view::npos) break;
      rest.remove_prefix(nul + 1);
    }
  }
  closedir(proc);
  return found;
}

}  // namespace llmk::kata::testing
