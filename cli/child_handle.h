// ChildHandle: one node process (`titan store|broker|worker`) started by `titan up`: an
// exec::ChildProcess (the worker's process library: its own process group, so a terminal's Ctrl-C
// reaches only `titan up`, which stops the nodes in order; SIGKILL as its parent-death signal, so it
// dies with `titan up` even when that is killed with SIGKILL; a move-only handle whose destructor
// SIGKILLs that group and reaps) plus its log, its READY line and its exit status.
// Single-threaded: use a handle from the thread that made it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "worker/child_process.h"

namespace titan::cli {

class ChildHandle {
 public:
  // Starts argv (argv[0] an absolute path) with the worker's process library (exec::ChildProcess:
  // its own process group, default signal dispositions): stdin from /dev/null, stdout into a pipe we
  // read, and stderr appended to `log_path`. `label` names it in messages ("worker host-w1"). An error
  // names the call and the file when it could not be started.
  static Result<ChildHandle> Spawn(std::string label, const std::vector<std::string>& argv,
                                   const std::string& log_path);

  ChildHandle(ChildHandle&&) noexcept = default;
  ChildHandle& operator=(ChildHandle&&) noexcept = default;  // ends the child this handle held, if any
  ~ChildHandle() = default;  // exec::ChildProcess: SIGKILL to the group, then the child is reaped

  pid_t pid() const { return process_.pid(); }
  const std::string& label() const { return label_; }
  const std::string& log_path() const { return log_path_; }
  // Readable when the child wrote to stdout (or closed it): call DrainStdout. -1 after EOF.
  int stdout_fd() const { return stdout_eof_ ? -1 : process_.stdout_fd(); }
  // Readable once the child has exited (a pidfd): call Exited. -1 when the kernel has none (then
  // call Exited periodically) and after Exited returned a status.
  int exit_fd() const { return exit_ ? -1 : process_.exit_fd(); }

  // Reads stdout until the line "READY <role> <endpoint>" and returns <endpoint>. False with
  // `error` set when the child exits first, the deadline passes, or `interrupt_fd` (>= 0) becomes
  // readable first (error is then "interrupted").
  bool WaitReady(std::string_view role, std::chrono::milliseconds deadline, int interrupt_fd,
                 std::string* endpoint, std::string* error);
  // Appends what the child wrote on stdout since to its log; stops reading at EOF.
  void DrainStdout();
  // The child's exit status once it has exited, else nullopt. Never blocks. The child stays a
  // zombie until the destructor, so its pid (its group id) cannot be reused while we hold it.
  std::optional<exec::ExitStatus> Exited();
  // False once Exited() has returned a status (no system call).
  bool running() const { return !exit_.has_value(); }
  // kill(-pid, sig) while the child has not been reaped.
  void SignalGroup(int sig) { (void)process_.SignalGroup(sig); }

  // The last `n` lines of the child's log, for "it died, here is why" messages.
  std::string LogTail(size_t n) const;

 private:
  ChildHandle() = default;
  std::string EndedBeforeReady();  // stdout hit EOF before READY: why, for the error

  std::string label_, log_path_;
  exec::ChildProcess process_;
  exec::UniqueFd log_;  // appended to: the header of each start and stdout other than READY
  bool stdout_eof_ = false;
  std::string pending_;  // stdout bytes read but not yet consumed by WaitReady
  std::optional<exec::ExitStatus> exit_;
};

// Sends `sig` to each live child, waits up to `grace` for all of them to exit, then SIGKILLs the
// rest. A readable `interrupt_fd` (a second Ctrl-C) cuts the grace short; it stays readable until the
// caller reads it, so later calls are cut short too. Returns the children that had to be killed.
std::vector<ChildHandle*> StopChildren(std::span<ChildHandle* const> children, int sig,
                                       std::chrono::milliseconds grace, int interrupt_fd);

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER): processes orphaned below it (jobs
// of a worker that was SIGKILLed) are reparented to it instead of to init, so they can be found.
void BecomeSubreaper();
// SIGKILLs the process group of every child of this process that no ChildHandle owns any more (call
// it once every handle is gone) and reaps them, until none is left. Returns how many there were.
int KillAdoptedChildren();

}  // namespace titan::cli
