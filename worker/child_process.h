// ChildProcess: a job's process, started in its own process group and killed when we die, owned by a
// move-only handle whose destructor kills whatever is left of the group and reaps the leader.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::exec {

inline constexpr size_t kMaxSpawnCgroups = 8;

struct SpawnSpec {
  // argv[0] is the program. Without a '/', it is searched on the PATH found in `env` (or
  // /usr/local/bin:/usr/bin:/bin when `env` has none); with a '/', a relative path is taken from `cwd`.
  std::vector<std::string> argv;
  // The child's whole environment, "KEY=VALUE" each; nothing is inherited (see CurrentEnvironment()).
  // A later entry overrides an earlier one with the same KEY, so overrides can simply be appended.
  std::vector<std::string> env;
  // Working directory of the child; empty keeps the worker's.
  std::string cwd;
  // When true, stderr goes into the stdout pipe (one ordered stream) and stderr_fd() is -1.
  bool merge_stderr = false;
  // When set, stdout and stderr are both appended to this file (created 0644) instead of pipes, and
  // stdout_fd() / stderr_fd() are -1. For long-lived children whose output nobody reads (child workers).
  std::string output_file;
  // When set (and output_file is not), stderr is appended to this file (created 0644) and
  // stderr_fd() is -1, while stdout still comes through its pipe. For `titan up`'s nodes: their
  // READY line on stdout, their log on stderr.
  std::string stderr_file;
  // Sent to the child when the thread that spawned it ends (PR_SET_PDEATHSIG, set before exec; a
  // child whose parent died before that exits at once), so that nothing we start outlives us. Spawn
  // from a thread that lives as long as the process (every node spawns from its loop thread). 0: none
  // (a process that must outlive us). It is not inherited by the child's own children.
  int parent_death_signal = SIGKILL;
  // When true, the parent-death signal covers only the child's setup: it is cleared just before exec,
  // after a check that we are still alive (a tiny window remains between that check and exec). For a
  // run-once job whose leader may finish after its worker dies, under its reaper's watch (reaper_runs.h).
  bool death_signal_until_exec = false;
  // Cgroup directories (cgroup.procs inside each) the child joins before exec, so that everything it
  // starts is in them too, setsid or not, and held to their limits from its first instruction
  // (worker/job_cgroup.h). At most kMaxSpawnCgroups.
  std::vector<std::string> cgroups;
  // When given (one per entry of `cgroups`, in order): their cgroup.procs, already open for writing, lent
  // by the caller (a pooled job cgroup keeps them: JobCgroup::ProcsFds); else Spawn opens them.
  std::vector<int> cgroup_procs_fds;
  // When not empty, the CPUs the child may run on (sched_setaffinity before exec): pinning where no
  // cpuset cgroup can. Its children inherit it.
  std::vector<int> cpus;
  // When >= 0, the child's stdin (a descriptor of ours, left open); else /dev/null. For a fork server's
  // control socket (worker/fork_server.h).
  int stdin_fd = -1;
};

// The descriptors a Launcher gives the new process, prepared by ChildProcess::Spawn (ours, close-on-exec;
// the launcher only lends them).
struct LaunchFds {
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  std::vector<int> cgroup_procs;  // each of SpawnSpec::cgroups' cgroup.procs, opened for writing
};

// Starts the process for `spec` (its env folded, last value wins) with `fds` some other way than
// vfork+exec, e.g. forked from a warm interpreter (worker/fork_server.h). Must return the pid of an
// unreaped child of this process, in its own process group, that has joined spec.cgroups (or will,
// before running any code of the job); on error nothing of it may run the job.
using Launcher = std::function<Result<pid_t>(const SpawnSpec& spec, const LaunchFds& fds)>;

// The path to exec for program `name`: `name` itself when it has a '/', else the first
// executable regular file of that name on env's PATH (relative entries taken from `cwd`, or from
// ours when `cwd` is empty), as an absolute path, like execvp minus the shell. Error: none found.
Result<std::string> FindProgram(const std::string& name, const std::vector<std::string>& env,
                                const std::string& cwd);

// This process's environment as a SpawnSpec::env.
std::vector<std::string> CurrentEnvironment();

// A pidfd (close-on-exec) for `pid`: readable once that process has exited. Invalid if the process
// does not exist or the kernel predates pidfd_open (Linux 5.3). Race-free only for an unreaped child.
UniqueFd OpenPidFd(pid_t pid);

// How the group leader ended.
struct ExitStatus {
  enum class Kind { kExited, kSignaled, kUnknown };
  Kind kind = Kind::kUnknown;
  int code = 0;    // exit code when kExited
  int signal = 0;  // signal number when kSignaled

  bool success() const { return kind == Kind::kExited && code == 0; }
  // ExitReason (base/exit_reason.h): "exit code 3", "killed by SIGKILL (signal 9)"; or "exit status unknown".
  std::string Render() const;
};

class ChildProcess {
 public:
  // Starts spec.argv. Errors name the file or call: "cannot run 'x.sh': No such file or directory",
  // "cannot use working directory '/nope': No such file or directory", "cannot run 'x' in cgroup 'C':
  // ...". On error nothing is left running.
  // stdin is /dev/null; no descriptor of ours other than the pipes reaches the child.
  static Result<ChildProcess> Spawn(const SpawnSpec& spec);
  // The same with the process started by `launcher` instead of vfork+exec (the program is not looked up).
  static Result<ChildProcess> Spawn(const SpawnSpec& spec, const Launcher& launcher);

  ChildProcess() = default;  // an empty handle, holding no process (pid() == -1)
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;  // ends the child this handle held, if any
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Sends SIGKILL to the whole group (also to members left behind by a leader that already exited)
  // and reaps the leader. Blocks only for the leader to die after SIGKILL.
  ~ChildProcess();

  pid_t pid() const { return pid_; }  // also the process-group id; -1 after move or Release()
  // Read ends of the output pipes: non-blocking, close-on-exec, owned by this handle (closed when it is
  // destroyed or released); -1 when SpawnSpec::output_file sent the output to a file. EOF arrives only when
  // every process holding the write end is gone.
  int stdout_fd() const { return stdout_.get(); }
  int stderr_fd() const { return stderr_.get(); }
  // A pidfd that becomes readable when the leader exits: put it into the poll set instead of polling
  // TryReap on a timer. -1 if the kernel has no pidfd_open (then call TryReap periodically).
  // It stays readable after the exit, so drop it from the poll set once TryReap returned a status.
  int exit_fd() const { return exit_.get(); }
  // The leader's start time as /proc/<pid>/stat's field 22 gives it (clock ticks after boot), when the
  // spawn could tell it exactly: the boot-time clock read just before and just after the vfork fell in
  // one tick (the kernel stamps a new process from that clock during the fork). nullopt otherwise (the
  // spawn spanned a tick, or a Launcher started the process): read /proc (ReadProcStat).
  std::optional<uint64_t> start_time() const { return start_time_; }

  // kill(-pgid, sig). Safe even after the leader exited: the leader is kept as an unreaped zombie
  // until this handle ends, so its pid (= the group id) cannot be recycled meanwhile.
  Status SignalGroup(int sig);

  // The leader's exit status once it has exited, else nullopt; never blocks. The leader is observed
  // with WNOWAIT and reaped only by the destructor (see SignalGroup), so once a status was returned
  // the same status is returned again. Other group members may still be running.
  std::optional<ExitStatus> TryReap();

  // Forgets the child without signalling it: closes our pipe ends and the pidfd, returns the pid.
  // The caller now owns the process (to reap it, or to leave it for PidRegistry::ReapLeftovers).
  pid_t Release();

 private:
  ChildProcess(pid_t pid, UniqueFd out, UniqueFd err, UniqueFd exit);
  void KillAndReap() noexcept;

  pid_t pid_ = -1;
  UniqueFd stdout_;
  UniqueFd stderr_;
  UniqueFd exit_;
  std::optional<ExitStatus> status_;
  std::optional<uint64_t> start_time_;
};

}  // namespace titan::exec
