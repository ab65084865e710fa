#include "child_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;

namespace llmk::kata {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often the child's state is checked while its output is silent.
constexpr milliseconds kPollInterval{20};
// After the group is killed: how long leftover output is read, and how long
// killed processes get to be reaped.
constexpr milliseconds kDrainLimit{500};
constexpr milliseconds kReapLimit{2000};
// How long the processes a run left behind are hunted down at most.
constexpr milliseconds kStrayLimit{5000};
// At most this many children of the harness are handled per pass over /proc.
constexpr int kMaxChildrenPerPass = 1024;

// Stores in `out` (up to `capacity`) the pids of the processes whose parent is
// `parent`, from field 4 of /proc/PID/stat, and returns how many it stored.
// Only system calls and no allocation, so the interrupt handler may use it.
int ListChildrenOf(pid_t parent, pid_t* out, int capacity) {
  const int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) return 0;
  int count = 0;
  alignas(struct dirent64) char entries[8192];
  for (;;) {
    const ssize_t n = getdents64(proc, entries, sizeof entries);
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(entries + offset);
      offset += entry->d_reclen;
      pid_t pid = 0;
      const char* name = entry->d_name;
      for (; *name >= '0' && *name <= '9'; ++name) pid = pid * 10 + (*name - '0');
      if (*name != '\0' || pid <= 0 || count >= capacity) continue;
      // "/proc/PID/stat" holds "PID (COMM) STATE PPID ..."; COMM may contain
      // anything, so the fields are counted from the last ')'.
      char path[32] = "/proc/";
      char digits[16];
      int length = 0;
      for (pid_t rest = pid; rest > 0; rest /= 10) {
        digits[length++] = static_cast<char>('0' + rest % 10);
      }
      int at = 6;
      while (length > 0) path[at++] = digits[--length];
      for (const char* tail = "/stat"; *tail != '\0'; ++tail) path[at++] = *tail;
      path[at] = '\0';
      const int stat = open(path, O_RDONLY | O_CLOEXEC);
      if (stat < 0) continue;  // it ended meanwhile
      char text[512];
      const ssize_t got = read(stat, text, sizeof text - 1);
      close(stat);
      if (got <= 0) continue;
      text[got] = '\0';
      const char* close_paren = nullptr;
      for (const char* c = text; *c != '\0'; ++c) {
        if (*c == ')') close_paren = c;
      }
      // ") S PPID"
      if (close_paren == nullptr || close_paren[1] != ' ' || close_paren[2] == '\0' ||
          close_paren[3] != ' ') {
        continue;
      }
      pid_t ppid = 0;
      for (const char* c = close_paren + 4; *c >= '0' && *c <= '9'; ++c) {
        ppid = ppid * 10 + (*c - '0');
      }
      if (ppid == parent) out[count++] = pid;
    }
  }
  close(proc);
  return count;
}

// Kills every child of the harness with SIGKILL and reaps it, then the
// children those leave to the harness, for a bounded number of passes. For
// the interrupt handler: async-signal-safe.
void KillAllChildrenNow() {
  pid_t children[kMaxChildrenPerPass];
  for (int pass = 0; pass < 100; ++pass) {
    const int count = ListChildrenOf(getpid(), children, kMaxChildrenPerPass);
    if (count == 0) return;
    for (int i = 0; i < count; ++i) kill(children[i], SIGKILL);
    for (int i = 0; i < count; ++i) {
      while (waitpid(children[i], nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

// The process group running right now, killed if the harness itself is
// interrupted, so that Ctrl-C never leaves a learner's binary running.
std::atomic<pid_t> g_running_group{0};

extern "C" void KillRunningGroupAndDie(int signal_number) {
  const pid_t group = g_running_group.load();
  if (group > 0) kill(-group, SIGKILL);
  // And what left the group: once the harness is gone they would be orphans
  // of init, out of reach.
  KillAllChildrenNow();
  ::signal(signal_number, SIG_DFL);
  raise(signal_number);
}

// Installs KillRunningGroupAndDie for the signals that end the harness, for
// the lifetime of the guard; a signal the harness ignores stays ignored.
class InterruptGuard {
 public:
  InterruptGuard() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      struct sigaction action {};
      action.sa_handler = KillRunningGroupAndDie;
      sigemptyset(&action.sa_mask);
      sigaction(kSignals[i], nullptr, &previous_[i]);
      if (previous_[i].sa_handler == SIG_DFL) sigaction(kSignals[i], &action, nullptr);
    }
  }
  ~InterruptGuard() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      sigaction(kSignals[i], &previous_[i], nullptr);
    }
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> previous_{};
};

// Orphans of our children are re-parented to us rather than to init, so they
// can be reaped here and do not linger as zombies when init does not reap.
void BecomeSubreaperOnce() {
  static const bool done = [] {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return true;
  }();
  (void)done;
}

// Keeps the head and the tail of a stream and counts all of it.
class OutputCollector {
 public:
  OutputCollector(std::size_t head_limit, std::size_t tail_limit,
                  std::optional<std::size_t> flood_limit)
      : head_limit_(head_limit), tail_limit_(tail_limit), flood_limit_(flood_limit) {}

  void Append(std::string_view data) {
    total_ += data.size();
    const std::size_t to_head = std::min(data.size(), head_limit_ - head_.size());
    head_.append(data.substr(0, to_head));
    data.remove_prefix(to_head);
    if (data.empty() || tail_limit_ == 0) return;
    tail_.append(data);
    if (tail_.size() > 2 * tail_limit_) tail_.erase(0, tail_.size() - tail_limit_);
  }

  bool Flooded() const { return flood_limit_ && total_ > *flood_limit_; }

  void MoveInto(ChildOutcome& outcome) {
    if (tail_.size() > tail_limit_) tail_.erase(0, tail_.size() - tail_limit_);
    const std::size_t dropped = total_ - head_.size() - tail_.size();
    outcome.output_bytes = total_;
    outcome.output_truncated = dropped > 0;
    outcome.output = head_;
    if (dropped > 0) {
      outcome.output += fmt::format("\n... [{} bytes of output not kept] ...\n", dropped);
    }
    outcome.output += tail_;
    outcome.output_head = std::move(head_);
  }

 private:
  std::size_t head_limit_;
  std::size_t tail_limit_;
  std::optional<std::size_t> flood_limit_;
  std::size_t total_ = 0;
  std::string head_;
  std::string tail_;
};

// Returns the path exec should use: `name` itself if it has a '/', else the
// first executable of that name in PATH (or `name`, for exec to fail on).
std::string ResolveExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

std::vector<std::string> ChildEnvironment(const ChildSpec& spec) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const std::string_view name = variable.substr(0, variable.find('='));
    const bool dropped =
        std::any_of(spec.env_drop_prefixes.begin(), spec.env_drop_prefixes.end(),
                    [&](const std::string& prefix) { return name.starts_with(prefix); });
    const bool overridden = std::any_of(spec.env.begin(), spec.env.end(),
                                        [&](const auto& setting) { return name == setting.first; });
    if (!dropped && !overridden) env.emplace_back(variable);
  }
  for (const auto& [name, value] : spec.env) env.push_back(fmt::format("{}={}", name, value));
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Makes `fd` available as `target` in an exec'd program.
void MoveFd(int fd, int target) {
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);  // clear FD_CLOEXEC
  } else {
    dup2(fd, target);
  }
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(const ChildSpec& spec, pid_t parent, int output_fd, int error_fd,
                            int null_fd, const char* path, char** argv, char** envp) {
  setpgid(0, 0);
  // If the harness dies, so does the child (the group is killed on the way out
  // too, but SIGKILL to the harness leaves no way out).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);

  // The child starts with default signal handling, whatever the harness has.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGXFSZ}) signal(s, SIG_DFL);

  struct rlimit no_core {};
  setrlimit(RLIMIT_CORE, &no_core);
  if (spec.address_space_limit_bytes) {
    struct rlimit address_space {};
    address_space.rlim_cur = *spec.address_space_limit_bytes;
    address_space.rlim_max = *spec.address_space_limit_bytes;
    setrlimit(RLIMIT_AS, &address_space);
  }
  if (spec.file_size_limit_bytes) {
    struct rlimit file_size {};
    file_size.rlim_cur = *spec.file_size_limit_bytes;
    file_size.rlim_max = *spec.file_size_limit_bytes;
    setrlimit(RLIMIT_FSIZE, &file_size);
  }

  int failure = 0;
  if (!spec.working_dir.empty() && chdir(spec.working_dir.c_str()) != 0) {
    failure = errno;
  } else {
    MoveFd(null_fd, STDIN_FILENO);
    MoveFd(output_fd, STDOUT_FILENO);
    MoveFd(output_fd, STDERR_FILENO);
    execve(path, argv, envp);
    failure = errno;
  }
  // Tell the parent why; it reads this through a close-on-exec pipe.
  ssize_t ignored = write(error_fd, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

// Reads what is available on `fd` into `collector`. Returns false at end of file.
bool ReadAvailable(int fd, OutputCollector& collector) {
  char buffer[64 * 1024];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n > 0) {
    collector.Append(std::string_view(buffer, static_cast<std::size_t>(n)));
    return true;
  }
  return n < 0 && (errno == EINTR || errno == EAGAIN);
}

// Waits up to `wait` for `fd` to be readable. Returns true if it is (or hung up).
bool WaitReadable(int fd, milliseconds wait) {
  struct pollfd entry {};
  entry.fd = fd;
  entry.events = POLLIN;
  const int ready = poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
  return ready > 0;
}

bool ChildHasEnded(pid_t pid) {
  siginfo_t info{};
  // WNOWAIT: the child stays a zombie, so its pid (and process group id) cannot
  // be reused before the group is killed.
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Reaps every process of the group `group` that is our child (the leader and
// re-parented orphans), giving killed processes a moment to die.
void ReapGroup(pid_t group) {
  const Clock::time_point give_up = Clock::now() + kReapLimit;
  while (Clock::now() < give_up) {
    int status = 0;
    const pid_t reaped = waitpid(-group, &status, WNOHANG);
    if (reaped > 0) continue;
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) return;  // ECHILD: none left
    std::this_thread::sleep_for(milliseconds(1));
  }
}

// The children the harness has right now (not this run's).
std::vector<pid_t> CurrentChildren() {
  std::vector<pid_t> children(kMaxChildrenPerPass);
  children.resize(
      static_cast<std::size_t>(ListChildrenOf(getpid(), children.data(), kMaxChildrenPerPass)));
  std::sort(children.begin(), children.end());
  return children;
}

// Kills with SIGKILL and reaps every child of the harness that is not in
// `earlier` (sorted): the processes that left the run's group and came back to
// the subreaper when their parent died. Killing one may hand its own children
// to the harness, so this repeats until a pass finds none (or kStrayLimit runs
// out, against a process that forks faster than it is killed).
void KillStrayChildren(const std::vector<pid_t>& earlier) {
  const Clock::time_point give_up = Clock::now() + kStrayLimit;
  std::vector<pid_t> strays;
  while (Clock::now() < give_up) {
    strays.clear();
    for (pid_t child : CurrentChildren()) {
      if (!std::binary_search(earlier.begin(), earlier.end(), child)) strays.push_back(child);
    }
    if (strays.empty()) return;
    for (pid_t stray : strays) kill(stray, SIGKILL);
    // A killed process hands its children over when it exits, before it can
    // be reaped; so once all are reaped, the next pass sees their children.
    for (pid_t stray : strays) {
      while (Clock::now() < give_up) {
        const pid_t reaped = waitpid(stray, nullptr, WNOHANG);
        if (reaped == stray || (reaped < 0 && errno != EINTR)) break;
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
  }
}

}  // namespace

ChildOutcome RunChild(const ChildSpec& spec) {
  ChildOutcome outcome;
  if (spec.argv.empty()) {
    outcome.start_error = "no program given";
    return outcome;
  }
  BecomeSubreaperOnce();
  InterruptGuard interrupt_guard;

  const std::string path = ResolveExecutable(spec.argv.front());
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<std::string> env_strings = ChildEnvironment(spec);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);

  int output_pipe[2];
  int error_pipe[2];
  if (pipe2(output_pipe, O_CLOEXEC) != 0) {
    outcome.start_error = fmt::format("pipe: {}", std::strerror(errno));
    return outcome;
  }
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    outcome.start_error = fmt::format("pipe: {}", std::strerror(errno));
    close(output_pipe[0]);
    close(output_pipe[1]);
    return outcome;
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const std::vector<pid_t> earlier_children = CurrentChildren();

  const Clock::time_point start = Clock::now();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    ExecChild(spec, parent, output_pipe[1], error_pipe[1], null_fd, path.c_str(), argv.data(),
              envp.data());
  }
  const int fork_errno = errno;
  close(output_pipe[1]);
  close(error_pipe[1]);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) {
    outcome.start_error = fmt::format("fork: {}", std::strerror(fork_errno));
    close(output_pipe[0]);
    close(error_pipe[0]);
    return outcome;
  }
  setpgid(pid, pid);  // the child does it too; whichever runs first wins
  g_running_group.store(pid);

  // The error pipe closes on a successful exec, or carries exec's errno.
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = read(error_pipe[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    waitpid(pid, nullptr, 0);
    g_running_group.store(0);
    close(output_pipe[0]);
    outcome.start_error =
        fmt::format("cannot run {}: {}", spec.argv.front(), std::strerror(exec_errno));
    return outcome;
  }

  OutputCollector collector(spec.keep_head_bytes, spec.keep_tail_bytes, spec.flood_limit_bytes);
  const std::optional<Clock::time_point> deadline =
      spec.timeout ? std::optional(start + *spec.timeout) : std::nullopt;
  bool output_open = true;
  bool ended_by_itself = false;
  for (;;) {
    if (ChildHasEnded(pid)) {
      ended_by_itself = true;
      break;
    }
    if (collector.Flooded()) {
      outcome.end = ChildEnd::kFlooded;
      break;
    }
    milliseconds wait = kPollInterval;
    if (deadline) {
      const auto left = std::chrono::duration_cast<milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        outcome.end = ChildEnd::kTimedOut;
        break;
      }
      wait = std::min(wait, left);
    }
    if (output_open) {
      if (WaitReadable(output_pipe[0], wait)) {
        output_open = ReadAvailable(output_pipe[0], collector);
      }
    } else {
      std::this_thread::sleep_for(wait);
    }
  }

  // Whatever happened, nothing of the group survives the run.
  kill(-pid, SIGKILL);
  if (!ended_by_itself) kill(pid, SIGKILL);  // in case it left its group
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ReapGroup(pid);
  // Nor does what left the group. The child is reaped, so whatever it had
  // started is a child of ours by now, or a descendant of one.
  KillStrayChildren(earlier_children);
  g_running_group.store(0);

  // Read what is still in the pipe. Every writer is dead, so this ends at end
  // of file; bounded all the same.
  const Clock::time_point drain_until = Clock::now() + kDrainLimit;
  while (output_open && Clock::now() < drain_until) {
    if (WaitReadable(output_pipe[0], kPollInterval)) {
      output_open = ReadAvailable(output_pipe[0], collector);
    }
  }
  close(output_pipe[0]);

  outcome.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  collector.MoveInto(outcome);
  if (ended_by_itself) {
    if (WIFEXITED(status)) {
      outcome.end = ChildEnd::kExited;
      outcome.exit_code = WEXITSTATUS(status);
    } else {
      outcome.end = ChildEnd::kSignaled;
      outcome.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
  }
  return outcome;
}

std::string SignalName(int signal_number) {
  switch (signal_number) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGSYS:
      return "SIGSYS";
    case SIGALRM:
      return "SIGALRM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return fmt::format("signal {}", signal_number);
  }
}

std::string DescribeEnd(const ChildOutcome& outcome) {
  switch (outcome.end) {
    case ChildEnd::kExited:
      return fmt::format("exit code {}", outcome.exit_code);
    case ChildEnd::kSignaled:
      return SignalName(outcome.signal);
    case ChildEnd::kTimedOut:
      return "timed out";
    case ChildEnd::kFlooded:
      return "flooded its output";
    case ChildEnd::kFailedToStart:
      return outcome.start_error;
  }
  return "unknown";
}

}  // namespace llmk::kata
