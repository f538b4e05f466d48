// ChildProcess: vfork+exec into a fresh process group (tied to our life, optionally in a cgroup) with
// piped stdout/stderr, exit observed via pidfd/waitid(WNOWAIT), and a destructor that kills the group
// and reaps the leader.
#include "worker/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <string_view>
#include <unordered_map>

#include "base/exit_reason.h"

extern char** environ;

namespace titan::exec {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

std::string_view PathOf(const std::vector<std::string>& env) {
  for (const std::string& kv : env) {
    if (kv.starts_with("PATH=")) return std::string_view(kv).substr(5);
  }
  return kDefaultPath;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> FindProgram(const std::string& name, const std::vector<std::string>& env,
                                const std::string& cwd) {
  if (name.find('/') != std::string::npos) return name;
  const std::string_view path = PathOf(env);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string_view::npos) end = path.size();
    std::string dir(path.substr(start, end - start));
    if (dir.empty()) dir = ".";
    if (dir[0] != '/' && !cwd.empty()) dir = cwd + "/" + dir;
    std::string candidate = dir + "/" + name;
    // Absolute, because the child resolves a relative path after its chdir.
    if (IsExecutableFile(candidate)) return std::filesystem::absolute(candidate).lexically_normal().string();
    start = end + 1;
  }
  return Status::Error("cannot run '" + name +
                       "': No such file or directory (no executable of that name on PATH " +
                       std::string(path) + ")");
}

namespace {

// A pipe whose both ends are close-on-exec and whose read end (ours) is non-blocking. The write end
// stays blocking: it becomes the child's stdout/stderr, and programs expect blocking writes.
Status MakeOutputPipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  // A new pipe's read end has no status flag but its access mode, which F_SETFL leaves alone.
  if (::fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) return ErrnoStatus("fcntl(O_NONBLOCK)", errno);
  return Status::Ok();
}

// /dev/null for reading, opened once per process (close-on-exec; children get it as their stdin by
// dup2): every spawn without an stdin_fd shares it. -1 (errno set) when it cannot be opened.
int DevNull() {
  static const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  static const int error = fd < 0 ? errno : 0;
  if (fd < 0) errno = error;
  return fd;
}

// Opened here rather than by a spawn file action, so that an error names the file, not the program.
Status OpenForAppend(const std::string& path, UniqueFd* fd) {
  fd->Reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd->valid()) return ErrnoStatus("cannot open '" + path + "'", errno);
  return Status::Ok();
}

// Everything the child needs, prepared before vfork: the child may only make system calls.
struct ChildSetup {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep ours
  int stdin_fd, stdout_fd, stderr_fd;
  const int* cgroup_procs_fds;  // each cgroup's cgroup.procs, opened for writing
  int cgroup_count;
  const cpu_set_t* cpus;  // nullptr: keep ours
  int death_signal;       // 0: none
  bool death_signal_until_exec;
  pid_t parent;
  // Written by the child (it shares our memory until it execs or exits): what failed, and errno.
  volatile int failed_step = 0;  // a Step
  volatile int failed_cgroup = 0;
  volatile int error = 0;
};

enum Step { kNone, kParentGone, kCgroup, kAffinity, kChdir, kExec, kSetup };

[[noreturn]] void Fail(ChildSetup* s, Step step) {
  s->error = errno;
  s->failed_step = step;
  _exit(127);
}

// The child between vfork and exec: async-signal-safe calls only, and never returning. Its own process
// group; the parent-death signal, then a check that the parent did not die before it was set (cleared
// again just before exec for death_signal_until_exec, with the same check); the
// cgroup joined before the program can fork; stdio; the working directory; default dispositions and an
// empty mask (signals were all blocked across the vfork, so no handler of ours runs here); every other
// descriptor closed.
[[noreturn]] void RunChild(ChildSetup* s) {
  if (setpgid(0, 0) != 0) Fail(s, kSetup);
  if (s->death_signal != 0) {
    if (prctl(PR_SET_PDEATHSIG, s->death_signal) != 0) Fail(s, kSetup);
    if (getppid() != s->parent) Fail(s, kParentGone);
  }
  for (int i = 0; i < s->cgroup_count; ++i) {
    s->failed_cgroup = i;
    if (write(s->cgroup_procs_fds[i], "0", 1) != 1) Fail(s, kCgroup);
  }
  if (s->cpus != nullptr && sched_setaffinity(0, sizeof(cpu_set_t), s->cpus) != 0) Fail(s, kAffinity);
  if (dup2(s->stdin_fd, STDIN_FILENO) < 0 || dup2(s->stdout_fd, STDOUT_FILENO) < 0 ||
      dup2(s->stderr_fd, STDERR_FILENO) < 0)
    Fail(s, kSetup);
  if (s->cwd != nullptr && chdir(s->cwd) != 0) Fail(s, kChdir);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL etc.: fine
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) Fail(s, kSetup);
  if (close_range(STDERR_FILENO + 1, ~0U, 0) != 0) Fail(s, kSetup);
  if (s->death_signal != 0 && s->death_signal_until_exec) {
    if (prctl(PR_SET_PDEATHSIG, 0) != 0) Fail(s, kSetup);
    if (getppid() != s->parent) Fail(s, kParentGone);
  }
  execve(s->program, s->argv, s->envp);
  Fail(s, kExec);
}

// vfork, not fork: the child borrows our memory until it execs (no copy of a large worker's page
// tables), which is how glibc's posix_spawn works too; we do it ourselves to run RunChild's steps
// (parent-death signal, cgroup) that posix_spawn has no attribute for. Every signal is blocked across
// it. Returns the child's pid; a failed step is in setup->failed_step (the child then exited, unreaped).
Result<pid_t> VforkExec(ChildSetup* setup) {
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = vfork();
  if (pid == 0) RunChild(setup);
  const int vfork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return ErrnoStatus("vfork", vfork_errno);
  if (setup->failed_step != kNone) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  return pid;
}

// What a child that failed before exec reports, naming the step.
Status SpawnError(const ChildSetup& setup, const SpawnSpec& spec) {
  const int err = setup.error;
  switch (setup.failed_step) {
    case kParentGone:
      return Status::Error("cannot run '" + spec.argv[0] + "': this process is ending");
    case kCgroup:
      return ErrnoStatus(
          "cannot run '" + spec.argv[0] + "' in cgroup '" + spec.cgroups[setup.failed_cgroup] + "'", err);
    case kAffinity:
      return ErrnoStatus("cannot pin '" + spec.argv[0] + "' to its CPUs (sched_setaffinity)", err);
    case kChdir:
      return ErrnoStatus("cannot use working directory '" + spec.cwd + "'", err);
    case kExec:
      return ErrnoStatus("cannot run '" + spec.argv[0] + "'", err);
    default:
      return ErrnoStatus("cannot start '" + spec.argv[0] + "' (setting up its process)", err);
  }
}

// Now on the clock the kernel stamps a new process with (CLOCK_BOOTTIME, task->start_boottime), in the
// clock ticks of /proc/<pid>/stat's start time (USER_HZ: floor of nanoseconds / (1e9 / USER_HZ)).
std::optional<uint64_t> BootTicks() {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  timespec now{};
  if (hz <= 0 || 1'000'000'000 % hz != 0 || ::clock_gettime(CLOCK_BOOTTIME, &now) != 0) return std::nullopt;
  const uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
  return ns / static_cast<uint64_t>(1'000'000'000 / hz);
}

// Checked before spawning, so that the common mistake is reported without a process being started.
Status CheckWorkingDirectory(const std::string& cwd) {
  if (cwd.empty()) return Status::Ok();
  struct stat st;
  if (::stat(cwd.c_str(), &st) != 0) return ErrnoStatus("cannot use working directory '" + cwd + "'", errno);
  if (!S_ISDIR(st.st_mode)) return ErrnoStatus("cannot use working directory '" + cwd + "'", ENOTDIR);
  return Status::Ok();
}

// `env` with duplicate keys folded: the last value wins, at the position of the key's first entry.
// (glibc's getenv would otherwise return the first one, silently ignoring an appended override.)
std::vector<std::string> LastValueWins(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  std::unordered_map<std::string_view, size_t> where;
  out.reserve(env.size());
  for (const std::string& kv : env) {
    const std::string_view key = std::string_view(kv).substr(0, kv.find('='));
    if (auto it = where.find(key); it != where.end()) {
      out[it->second] = kv;
    } else {
      where.emplace(key, out.size());
      out.push_back(kv);
    }
  }
  return out;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

UniqueFd OpenPidFd(pid_t pid) {
  // The syscall itself: glibc 2.36's <sys/pidfd.h> lacks C++ linkage guards.
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

std::string ExitStatus::Render() const {
  switch (kind) {
    case Kind::kExited:
      return ExitReason(code, 0);
    case Kind::kSignaled:
      return ExitReason(0, signal);
    case Kind::kUnknown:
      break;
  }
  return "exit status unknown";
}

Result<ChildProcess> ChildProcess::Spawn(const SpawnSpec& spec) { return Spawn(spec, nullptr); }

Result<ChildProcess> ChildProcess::Spawn(const SpawnSpec& spec, const Launcher& launcher) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Status::Error("cannot spawn: the command is empty");
  if (Status s = CheckWorkingDirectory(spec.cwd); !s.ok()) return s;
  const std::vector<std::string> env = LastValueWins(spec.env);
  Result<std::string> program =
      launcher ? Result<std::string>(spec.argv[0]) : FindProgram(spec.argv[0], env, spec.cwd);
  if (!program.ok()) return program.status();

  UniqueFd out_r, out_w, err_r, err_w;
  if (!spec.output_file.empty()) {
    if (Status s = OpenForAppend(spec.output_file, &out_w); !s.ok()) return s;
  } else {
    if (Status s = MakeOutputPipe(&out_r, &out_w); !s.ok()) return s;
    if (!spec.stderr_file.empty()) {
      if (Status s = OpenForAppend(spec.stderr_file, &err_w); !s.ok()) return s;
    } else if (!spec.merge_stderr) {
      if (Status s = MakeOutputPipe(&err_r, &err_w); !s.ok()) return s;
    }
  }
  const int stdin_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : DevNull();
  if (stdin_fd < 0) return ErrnoStatus("cannot open '/dev/null'", errno);
  if (spec.cgroups.size() > kMaxSpawnCgroups) return Status::Error("cannot spawn: more than 8 cgroups");
  std::vector<UniqueFd> cgroup_procs;
  std::vector<int> procs_fds;
  const bool lent = spec.cgroup_procs_fds.size() == spec.cgroups.size();
  if (lent) procs_fds = spec.cgroup_procs_fds;
  for (const std::string& cgroup : lent ? std::vector<std::string>{} : spec.cgroups) {
    const std::string procs = cgroup + "/cgroup.procs";
    cgroup_procs.emplace_back(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroup_procs.back().valid()) return ErrnoStatus("cannot open '" + procs + "'", errno);
    procs_fds.push_back(cgroup_procs.back().get());
  }
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (const int cpu : spec.cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return Status::Error("cannot pin to CPU " + std::to_string(cpu));
    CPU_SET(cpu, &cpus);
  }
  if (launcher) {
    SpawnSpec folded = spec;
    folded.env = env;
    const LaunchFds fds{.stdin_fd = stdin_fd,
                        .stdout_fd = out_w.get(),
                        .stderr_fd = err_w.valid() ? err_w.get() : out_w.get(),
                        .cgroup_procs = procs_fds};
    const Result<pid_t> pid = launcher(folded, fds);
    if (!pid.ok()) return pid.status();
    return ChildProcess(*pid, std::move(out_r), std::move(err_r), OpenPidFd(*pid));
  }
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(env);
  ChildSetup setup{.program = program->c_str(),
                   .argv = argv.data(),
                   .envp = envp.data(),
                   .cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
                   .stdin_fd = stdin_fd,
                   .stdout_fd = out_w.get(),
                   .stderr_fd = err_w.valid() ? err_w.get() : out_w.get(),
                   .cgroup_procs_fds = procs_fds.data(),
                   .cgroup_count = static_cast<int>(procs_fds.size()),
                   .cpus = spec.cpus.empty() ? nullptr : &cpus,
                   .death_signal = spec.parent_death_signal,
                   .death_signal_until_exec = spec.death_signal_until_exec,
                   .parent = ::getpid()};
  const std::optional<uint64_t> before = BootTicks();
  const Result<pid_t> pid = VforkExec(&setup);
  const std::optional<uint64_t> after = BootTicks();
  if (!pid.ok()) return pid.status();
  if (setup.failed_step != kNone) return SpawnError(setup, spec);
  // Race-free: `pid` is our unreaped child, so the number cannot have been recycled.
  ChildProcess child(*pid, std::move(out_r), std::move(err_r), OpenPidFd(*pid));
  if (before && before == after) child.start_time_ = before;
  return child;
}

ChildProcess::ChildProcess(pid_t pid, UniqueFd out, UniqueFd err, UniqueFd exit)
    : pid_(pid), stdout_(std::move(out)), stderr_(std::move(err)), exit_(std::move(exit)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)),
      exit_(std::move(other.exit_)),
      status_(std::exchange(other.status_, std::nullopt)),
      start_time_(std::exchange(other.start_time_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
    exit_ = std::move(other.exit_);
    status_ = std::exchange(other.status_, std::nullopt);
    start_time_ = std::exchange(other.start_time_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() noexcept {
  if (pid_ > 0) {
    // The leader is unreaped (running or a zombie), so -pid_ still names our group and nobody else's.
    // The leader is also killed by pid: should it have moved to another group, waitpid would hang.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  status_.reset();
  stdout_.Reset();
  stderr_.Reset();
  exit_.Reset();
}

Status ChildProcess::SignalGroup(int sig) {
  if (pid_ <= 0) return Status::Error("cannot signal: the handle holds no process");
  if (::kill(-pid_, sig) != 0) return ErrnoStatus("kill(-" + std::to_string(pid_) + ")", errno);
  return Status::Ok();
}

std::optional<ExitStatus> ChildProcess::TryReap() {
  if (status_ || pid_ <= 0) return status_;
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  ExitStatus st;
  if (rc != 0) {
    // ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN, or a stray waitpid(-1)). A bug elsewhere;
    // report an ended process with an unknown status rather than a child that runs forever.
    st.kind = ExitStatus::Kind::kUnknown;
  } else if (info.si_pid == 0) {
    return std::nullopt;  // still running
  } else if (info.si_code == CLD_EXITED) {
    st.kind = ExitStatus::Kind::kExited;
    st.code = info.si_status;
  } else {
    st.kind = ExitStatus::Kind::kSignaled;  // CLD_KILLED or CLD_DUMPED
    st.signal = info.si_status;
  }
  status_ = st;
  return status_;
}

pid_t ChildProcess::Release() {
  const pid_t pid = std::exchange(pid_, -1);
  KillAndReap();  // with pid_ == -1 this only closes our descriptors
  return pid;
}

}  // namespace titan::exec
