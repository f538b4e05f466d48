// The worker's side of a warm Python interpreter: starting it, its control socket (SOCK_SEQPACKET:
// one JSON message per request or reply, descriptors passed with SCM_RIGHTS), and its recovery.
#include "worker/fork_server.h"

#include <errno.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "worker/fd_passing.h"
#include "worker/warm_start.h"

namespace titan::exec {
namespace {

constexpr size_t kMaxReply = 4096;
constexpr size_t kMaxFds = 16;  // the server's recv_fds limit

// One message with `fds` attached (fd_passing.h). *too_large: the message does not fit the socket (the
// server is fine).
Status SendRequest(int sock, const std::string& bytes, const std::vector<int>& fds, bool* too_large) {
  if (fds.size() > kMaxFds) return Status::Error("too many descriptors for the fork server");
  const int err = SendWithFds(sock, bytes, fds);
  *too_large = err == EMSGSIZE;
  if (err != 0) return ErrnoStatus("sending to the fork server", err);
  return Status::Ok();
}

// One message, if one is there (`wait`: up to that long). nullopt: none yet; "" : the server closed.
Result<std::optional<std::string>> Receive(int sock, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    char buf[kMaxReply];
    const ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n >= 0) return std::optional<std::string>(std::string(buf, static_cast<size_t>(n)));
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ErrnoStatus("reading from the fork server", errno);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<std::string>();
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) < 0 && errno != EINTR)
      return ErrnoStatus("poll on the fork server", errno);
  }
}

std::string Request(const SpawnSpec& spec) {
  nlohmann::json j = {{"argv", spec.argv},
                      {"env", spec.env},
                      {"cwd", spec.cwd},
                      {"cpus", spec.cpus},
                      {"worker_pid", ::getpid()},
                      {"cgroups", spec.cgroups},
                      {"outlive_worker", spec.death_signal_until_exec}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<ForkServer> ForkServer::Start(const std::string& python, const std::vector<std::string>& env,
                                     const std::string& log) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return ErrnoStatus("socketpair for the fork server", errno);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  SpawnSpec spec;
  spec.argv = {python, "-m", "titan_sdk._fork_server"};
  spec.env = env;
  spec.output_file = log;
  spec.stdin_fd = theirs.get();
  Result<ChildProcess> process = ChildProcess::Spawn(spec);
  if (!process.ok()) return process.status();
  return ForkServer(std::move(process.value()), std::move(ours), log);
}

void ForkServer::Fail(std::string why) {
  state_ = State::kFailed;
  failure_ = std::move(why);
  process_ = ChildProcess();  // kills and reaps it
  ctl_.Reset();
}

void ForkServer::Ended() {
  std::string tail;  // the end of its log: Python's traceback, if it printed one
  if (std::ifstream in(log_, std::ios::binary); in) {
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(std::max<std::streamoff>(0, size - 4096));
    tail.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::optional<ExitStatus> ended = process_.TryReap();  // it may not be reaped yet
  const std::string how = ended ? " (" + ended->Render() + ")" : "";
  if (tail.find("No module named 'titan_sdk'") != std::string::npos) {
    import_failed_ = true;
    Fail(
        "No module named 'titan_sdk': set TITAN_PYTHON to a python3 that has the Titan SDK, or install it "
        "(pip install -e sdk/python) for this interpreter");
    return;
  }
  Fail("it ended before it was ready" + how + "; see " + log_);
}

ForkServer::State ForkServer::Poll() {
  if (state_ == State::kFailed) return state_;
  if (state_ == State::kStarting) {
    // What the server said before it ended comes first: a server that cannot import titan_sdk says so
    // and exits at once, and its exit must not hide why.
    Result<std::optional<std::string>> said = Receive(ctl_.get(), std::chrono::milliseconds(0));
    if (said.ok() && *said && (*said)->empty()) {  // end of file: it closed its socket (it ended)
      Ended();
      return state_;
    }
    if (said.ok() && *said) {
      const nlohmann::json j = nlohmann::json::parse(**said, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("ready")) {
        state_ = State::kReady;
      } else if (j.is_object() && j.contains("error") && j["error"].is_string()) {
        import_failed_ = true;
        Fail(j["error"].get<std::string>());
        return state_;
      } else {
        Fail("it said something unexpected");
        return state_;
      }
    } else if (!said.ok() && !process_.TryReap()) {
      Fail(said.message());
      return state_;
    }
  }
  if (std::optional<ExitStatus> ended = process_.TryReap()) Fail("it ended (" + ended->Render() + ")");
  return state_;
}

Result<pid_t> ForkServer::Launch(const SpawnSpec& spec, const LaunchFds& fds,
                                 std::chrono::milliseconds timeout) {
  if (state_ != State::kReady) return Status::Error("the fork server is not ready");
  int go[2];  // the job reads one byte from go[1]'s peer before running any code
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) return ErrnoStatus("socketpair", errno);
  UniqueFd go_ours(go[0]), go_theirs(go[1]);
  std::vector<int> passed = {fds.stdin_fd, fds.stdout_fd, fds.stderr_fd, go_theirs.get()};
  passed.insert(passed.end(), fds.cgroup_procs.begin(), fds.cgroup_procs.end());
  bool too_large = false;
  if (Status s = SendRequest(ctl_.get(), Request(spec), passed, &too_large); !s.ok()) {
    if (too_large) return Status::Error("the job's request is too large for the fork server");
    Fail(s.message());
    return s;
  }
  go_theirs.Reset();
  Result<std::optional<std::string>> reply = Receive(ctl_.get(), timeout);
  if (!reply.ok()) {
    Fail(reply.message());
    return reply.status();
  }
  if (!*reply) {
    Fail("no answer within " + std::to_string(timeout.count()) + " ms");
    return Status::Error("the fork server did not answer within " + std::to_string(timeout.count()) + " ms");
  }
  if ((*reply)->empty()) {
    Fail("it closed its socket");
    return Status::Error("the fork server ended while starting the job");
  }
  const nlohmann::json j = nlohmann::json::parse(**reply, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("pid") && j["pid"].is_number_integer()) {
    const pid_t pid = j["pid"].get<pid_t>();
    // Its own process group before anyone signals it: the job does this first too, and an intermediate
    // did, but a job forked as the server's sibling may not have run yet (we are its parent: allowed).
    ::setpgid(pid, pid);
    if (::send(go_ours.get(), "1", 1, MSG_NOSIGNAL) != 1) {  // the job died before it began: it shows as such
      spdlog::debug("fork server: job pid {} gone before its start", pid);
    }
    return pid;
  }
  if (j.is_object() && j.contains("error") && j["error"].is_string())
    return Status::Error("the fork server could not start the job: " + j["error"].get<std::string>());
  Fail("it answered something unexpected");
  return Status::Error("the fork server answered something unexpected");
}

ForkServers::Entry& ForkServers::EntryFor(const std::string& key) { return servers_[key]; }

bool ForkServers::Owns(pid_t pid) const {
  for (const auto& [key, e] : servers_) {
    if (e.server && e.server->pid() == pid) return true;
  }
  return false;
}

std::vector<pid_t> ForkServers::Pids() const {
  std::vector<pid_t> pids;
  for (const auto& [key, e] : servers_) {
    if (e.server) pids.push_back(e.server->pid());
  }
  return pids;
}

Status ForkServers::StartServer(Entry& e, const std::string& python, const std::vector<std::string>& env) {
  if (e.failed_starts >= kMaxFailedStarts) {
    spdlog::warn("worker: the fork server of {} failed {} times in a row; its .py jobs start cold", python,
                 e.failed_starts);
    e.given_up = true;
    return Status::Error("warm starts are off for " + python);
  }
  ++e.failed_starts;  // until it serves a job
  const std::string log = log_dir_ + "/fork-server-" + std::to_string(++started_) + ".log";
  Result<ForkServer> server = ForkServer::Start(python, ServerEnvironment(env), log);
  if (!server.ok()) {
    spdlog::warn("worker: cannot start a fork server for {}: {}", python, server.message());
    return server.status();
  }
  spdlog::info("worker: fork server for {} started (pid {}, log {})", python, server->pid(), log);
  e.server.emplace(std::move(server.value()));
  return Status::Ok();
}

void ForkServers::Prewarm(const std::string& python, const std::vector<std::string>& env) {
  const std::string key = ServerKey(python, env);
  if (servers_.contains(key) || servers_.size() >= kMaxServers) return;
  (void)StartServer(EntryFor(key), python, env);  // a failure is logged; the first job retries or goes cold
}

Result<ChildProcess> ForkServers::Spawn(const std::string& python, const SpawnSpec& spec) {
  const std::string key = ServerKey(python, spec.env);
  if (!servers_.contains(key) && servers_.size() >= kMaxServers)
    return Status::Error("this worker runs " + std::to_string(kMaxServers) + " fork servers already");
  Entry& e = EntryFor(key);
  if (e.given_up) return Status::Error("warm starts are off for " + python);
  if (e.server) {
    const ForkServer::State state = e.server->Poll();
    if (state == ForkServer::State::kStarting) return Status::Error("its fork server is starting");
    if (state == ForkServer::State::kFailed) {
      if (e.server->import_failed()) {
        spdlog::warn("worker: {} cannot run warm Python jobs ({}); its .py jobs start cold", python,
                     e.server->failure());
        e.given_up = true;
        e.server.reset();
        return Status::Error("the fork server cannot import titan_sdk");
      }
      spdlog::warn("worker: the fork server of {} (pid {}) failed: {}; starting a new one", python,
                   e.server->pid(), e.server->failure());
      e.server.reset();
    }
  }
  if (!e.server) {
    if (Status s = StartServer(e, python, spec.env); !s.ok()) return s;
    return Status::Error("its fork server is starting");
  }
  ForkServer& server = *e.server;
  Result<ChildProcess> child = ChildProcess::Spawn(spec, [&server](const SpawnSpec& s, const LaunchFds& fds) {
    return server.Launch(s, fds, kLaunchTimeout);
  });
  if (child.ok()) {
    e.failed_starts = 0;
  } else if (server.Poll() == ForkServer::State::kFailed) {
    spdlog::warn("worker: the fork server of {} failed: {}; the job starts cold", python, server.failure());
    e.server.reset();
  }
  return child;
}

}  // namespace titan::exec
