// ChildProcess: posix_spawn into a fresh process group with piped stdout/stderr, exit observed via
// pidfd/waitid(WNOWAIT), and a destructor that kills the group and reaps the leader.
#include "worker/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
  const int flags = ::fcntl(fds[0], F_GETFL);
  if (flags < 0 || ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0)
    return ErrnoStatus("fcntl(O_NONBLOCK)", errno);
  return Status::Ok();
}

// Opened here rather than by a spawn file action, so that an error names the file, not the program.
Status OpenForAppend(const std::string& path, UniqueFd* fd) {
  fd->Reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd->valid()) return ErrnoStatus("cannot open '" + path + "'", errno);
  return Status::Ok();
}

// RAII for the two posix_spawn attribute objects.
struct SpawnAttrs {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttrs() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

// Own process group (pgid = pid), an empty signal mask and default dispositions for every signal
// (the worker may ignore SIGPIPE; its jobs must not inherit that). stdin from /dev/null, stdout and
// stderr into the pipes, every other descriptor closed, then chdir.
Status Configure(SpawnAttrs* a, const SpawnSpec& spec, int out_w, int err_w) {
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  int rc = posix_spawnattr_setflags(&a->attr,
                                    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&a->attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&a->attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&a->attr, &all);
  if (rc != 0) return ErrnoStatus("posix_spawnattr", rc);
  rc = posix_spawn_file_actions_addopen(&a->actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&a->actions, out_w, STDOUT_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&a->actions, err_w, STDERR_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&a->actions, STDERR_FILENO + 1);
  if (rc == 0 && !spec.cwd.empty()) rc = posix_spawn_file_actions_addchdir_np(&a->actions, spec.cwd.c_str());
  if (rc != 0) return ErrnoStatus("posix_spawn_file_actions", rc);
  return Status::Ok();
}

// posix_spawn reports a failed chdir and a failed exec through the same return code; checking the
// directory first lets the error name the right culprit.
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

Result<ChildProcess> ChildProcess::Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Status::Error("cannot spawn: the command is empty");
  if (Status s = CheckWorkingDirectory(spec.cwd); !s.ok()) return s;
  const std::vector<std::string> env = LastValueWins(spec.env);
  Result<std::string> program = FindProgram(spec.argv[0], env, spec.cwd);
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
  SpawnAttrs attrs;
  const int err_target = err_w.valid() ? err_w.get() : out_w.get();
  if (Status s = Configure(&attrs, spec, out_w.get(), err_target); !s.ok()) return s;

  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(env);
  pid_t pid = -1;
  // glibc's posix_spawn waits for the exec, so a missing or non-executable program comes back here.
  const int rc = ::posix_spawn(&pid, program->c_str(), &attrs.actions, &attrs.attr, argv.data(), envp.data());
  if (rc != 0) return ErrnoStatus("cannot run '" + spec.argv[0] + "'", rc);
  // Race-free: `pid` is our unreaped child, so the number cannot have been recycled.
  return ChildProcess(pid, std::move(out_r), std::move(err_r), OpenPidFd(pid));
}

ChildProcess::ChildProcess(pid_t pid, UniqueFd out, UniqueFd err, UniqueFd exit)
    : pid_(pid), stdout_(std::move(out)), stderr_(std::move(err)), exit_(std::move(exit)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)),
      exit_(std::move(other.exit_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
    exit_ = std::move(other.exit_);
    status_ = std::exchange(other.status_, std::nullopt);
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
