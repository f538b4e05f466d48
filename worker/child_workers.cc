// Child workers: command line, spawn, exit, shutdown, and the startup sweep of a previous life's.
#include "worker/child_workers.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "worker/pid_registry.h"

namespace titan::worker {
namespace {

bool ValidName(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.size() > 200) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

// Reaps the registry of the worker whose data directory is `dir`, then its children's.
int EndWorkerTree(const std::string& dir) {
  int ended = 0;
  if (std::filesystem::exists(dir + "/pids")) {
    auto registry = exec::PidRegistry::Open(dir + "/pids");
    auto n = registry.ok() ? registry->ReapLeftovers() : Result<int>(registry.status());
    if (n.ok()) {
      ended += n.value();
    } else {
      spdlog::warn("worker: cannot end what the child worker in {} left: {}", dir, n.message());
    }
  }
  return ended + EndLeftoverChildren(dir + "/children");
}

}  // namespace

std::vector<std::string> ChildWorkerArgv(const ChildWorkerTemplate& t, const ChildRequest& child) {
  std::vector<std::string> argv = {t.exe,          "worker",
                                   "--host",       t.host,
                                   "--port",       std::to_string(t.port),
                                   "--name",       child.name,
                                   "--slots",      std::to_string(child.slots),
                                   "--dir",        t.dir + "/children/" + child.name,
                                   "--shared-dir", t.shared_dir,
                                   "--parent",     t.parent,
                                   "--executor",   t.executor};
  for (const auto* tags : {&t.tags, &child.tags}) {
    for (const std::string& tag : *tags) {
      argv.push_back("--tag");
      argv.push_back(tag);
    }
  }
  for (const std::string& runtime : t.runtimes) {
    argv.push_back("--runtime");
    argv.push_back(runtime);
  }
  if (!t.credentials.empty()) {
    argv.push_back("--credentials");
    argv.push_back(t.credentials);
  }
  if (child.port > 0) {
    argv.push_back("--address-port");
    argv.push_back(std::to_string(child.port));
  }
  for (const auto& [flag, value] :
       {std::pair{"--heartbeat-ms", t.heartbeat_ms}, std::pair{"--kill-grace-ms", t.kill_grace_ms},
        std::pair{"--drain-grace-ms", t.drain_grace_ms}}) {
    argv.push_back(flag);
    argv.push_back(std::to_string(value));
  }
  if (t.log_format != "text") argv.insert(argv.end(), {"--log-format", t.log_format});
  if (t.cold_python) argv.push_back("--cold-python");
  return argv;
}

std::string SelfExe() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec || !std::filesystem::exists(exe, ec)) return "/proc/self/exe";  // "... (deleted)": rebuilt meanwhile
  return exe.string();
}

Result<pid_t> ChildWorkers::Spawn(const ChildRequest& child) {
  const std::string& name = child.name;
  if (!ValidName(name)) {
    return Status::Error("child worker name '" + name +
                         "' is not allowed: use letters, digits, '.', '-' and '_' (not first '.')");
  }
  if (children_.count(name) != 0) return Status::Error("child worker " + name + " is running already");
  std::error_code ec;
  std::filesystem::create_directories(DirOf(name), ec);
  if (ec) return Status::Error("cannot create '" + DirOf(name) + "': " + ec.message());
  exec::SpawnSpec spec;
  spec.argv = ChildWorkerArgv(t_, child);
  spec.env = exec::CurrentEnvironment();
  spec.output_file = LogOf(name);
  spec.parent_death_signal = SIGTERM;  // it drains when its parent dies (the parent normally stops it first)
  auto process = exec::ChildProcess::Spawn(spec);
  if (!process.ok()) return process.status();
  const pid_t pid = process->pid();
  children_.emplace(name, std::move(process.value()));
  return pid;
}

std::vector<ChildWorkers::Exit> ChildWorkers::Reap() {
  std::vector<Exit> exits;
  for (auto it = children_.begin(); it != children_.end();) {
    if (const std::optional<exec::ExitStatus> st = it->second.TryReap()) {
      exits.push_back({it->first, it->second.pid(), *st});
      it = children_.erase(it);  // the handle reaps the zombie
    } else {
      ++it;
    }
  }
  return exits;
}

void ChildWorkers::Signal(int sig) {
  for (auto& [name, child] : children_) {
    if (!child.TryReap()) (void)child.SignalGroup(sig);
  }
}

std::vector<ChildWorkers::Exit> ChildWorkers::KillAll() {
  std::vector<Exit> killed;
  for (auto& [name, child] : children_) {
    const pid_t pid = child.pid();
    const std::optional<exec::ExitStatus> st = child.TryReap();
    child = exec::ChildProcess();  // SIGKILL to its group, then reaped
    killed.push_back(
        {name, pid, st.value_or(exec::ExitStatus{exec::ExitStatus::Kind::kSignaled, 0, SIGKILL})});
    if (const int ended = EndWorkerTree(DirOf(name)); ended > 0) {
      spdlog::warn("worker: ended {} job process groups child worker {} left behind", ended, name);
    }
  }
  children_.clear();
  return killed;
}

bool ChildWorkers::Owns(pid_t pid) const {
  for (const auto& [name, child] : children_) {
    if (child.pid() == pid) return true;
  }
  return false;
}

std::vector<PollFd> ChildWorkers::PollFds() const {
  std::vector<PollFd> fds;
  for (const auto& [name, child] : children_) {
    if (child.exit_fd() >= 0) fds.push_back({child.exit_fd(), false});
  }
  return fds;
}

int EndLeftoverChildren(const std::string& children_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(children_dir, ec)) return 0;
  int ended = 0;
  for (const auto& entry : std::filesystem::directory_iterator(children_dir, ec)) {
    if (entry.is_directory(ec)) ended += EndWorkerTree(entry.path().string());
  }
  return ended;
}

}  // namespace titan::worker
