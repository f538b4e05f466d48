// Interpreter choice by extension, and the one-time resolution of the real Python behind `python3`.
#include "worker/interpreter.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>

#include "worker/child_process.h"
#include "worker/shell_words.h"

namespace titan::exec {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Everything `child` writes to stdout (stderr is drained and dropped) until both pipes reach EOF and
// the child exits successfully. Empty on timeout, failure, or more than 4 KiB of output.
std::string StdoutOfSuccessfulRun(ChildProcess& child, Clock::time_point deadline) {
  std::string out;
  int fds[2] = {child.stdout_fd(), child.stderr_fd()};
  while ((fds[0] >= 0 || fds[1] >= 0) && out.size() <= 4096) {
    pollfd pfds[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    const int ready = ::poll(pfds, 2, MillisLeft(deadline));
    if (ready <= 0) return {};  // timeout (or poll error): the handle's destructor ends the child
    for (int i = 0; i < 2; ++i) {
      if (pfds[i].revents == 0) continue;
      char buf[1024];
      const ssize_t n = ::read(fds[i], buf, sizeof(buf));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) fds[i] = -1;
      if (n > 0 && i == 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  if (out.size() > 4096) return {};
  pollfd exit_pfd = {child.exit_fd(), POLLIN, 0};
  if (exit_pfd.fd >= 0 && ::poll(&exit_pfd, 1, MillisLeft(deadline)) <= 0) return {};
  // Both pipes closed, so the child is exiting; without a pidfd, check every millisecond.
  std::optional<ExitStatus> st = child.TryReap();
  while (!st && Clock::now() < deadline) {
    ::poll(nullptr, 0, 1);
    st = child.TryReap();
  }
  if (!st || !st->success()) return {};
  return out;
}

std::string FindPythonExecutable(const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  SpawnSpec spec;
  spec.argv = {"python3", "-c", "import sys; print(sys.executable)"};
  spec.env = env;
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  if (!child.ok()) return {};
  std::string out = StdoutOfSuccessfulRun(*child, Clock::now() + timeout);
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  if (out.empty() || out[0] != '/' || ::access(out.c_str(), X_OK) != 0) return {};
  return out;
}

std::string EnvValue(const std::vector<std::string>& env, std::string_view key) {
  for (const std::string& kv : env) {
    if (kv.size() > key.size() && kv.starts_with(key) && kv[key.size()] == '=')
      return kv.substr(key.size() + 1);
  }
  return {};
}

std::string LowerExtension(const std::string& path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

Toolchain ResolveToolchain(const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  Toolchain tools;
  if (std::string forced = EnvValue(env, "TITAN_PYTHON"); !forced.empty()) {
    tools.python = forced;
    spdlog::info("python for .py jobs: {} (from TITAN_PYTHON)", tools.python);
  } else if (std::string found = FindPythonExecutable(env, timeout); !found.empty()) {
    tools.python = found;
    spdlog::info("python for .py jobs: {} (sys.executable of python3)", tools.python);
  } else {
    spdlog::warn("python3 did not report its sys.executable; .py jobs will run with plain 'python3'");
  }
  // Found once here rather than on every spawn (a PATH walk of stat calls per job).
  for (std::string* tool : {&tools.bash, &tools.java}) {
    if (Result<std::string> found = FindProgram(*tool, env, ""); found.ok()) *tool = found.value();
  }
  return tools;
}

Result<std::vector<std::string>> CommandFor(const std::string& job_file, std::string_view args,
                                            const Toolchain& tools) {
  struct stat st;
  if (::stat(job_file.c_str(), &st) != 0) return ErrnoStatus("cannot use job file '" + job_file + "'", errno);
  if (S_ISDIR(st.st_mode)) return ErrnoStatus("cannot use job file '" + job_file + "'", EISDIR);
  Result<std::vector<std::string>> words = SplitArgs(args);
  if (!words.ok()) return words.status();

  // Absolute, so the job's own working directory does not matter, PATH is never searched for it and a
  // name like "-x.py" is not taken for an option.
  std::error_code ec;
  const std::string file = std::filesystem::absolute(job_file, ec).lexically_normal().string();
  if (ec) return Status::Error("cannot use job file '" + job_file + "': " + ec.message());
  const std::string ext = LowerExtension(job_file);
  std::vector<std::string> argv;
  if (ext == "py") {
    argv = {tools.python, file};
  } else if (ext == "sh") {
    argv = {tools.bash, file};
  } else if (ext == "jar") {
    argv = {tools.java, "-jar", file};
  } else if (::access(job_file.c_str(), X_OK) == 0) {
    argv = {file};
  } else {
    return Status::Error("cannot run job file '" + job_file +
                         "': it is not executable and has no known extension (.py .sh .jar); "
                         "make it executable (chmod +x) or rename it");
  }
  argv.insert(argv.end(), std::make_move_iterator(words->begin()), std::make_move_iterator(words->end()));
  return argv;
}

}  // namespace titan::exec
