// Runtime flags, the job environment of a runtime, and command lookup.
#include "worker/runtimes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "worker/child_process.h"

namespace titan::exec {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ValidName(std::string_view name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

}  // namespace

Result<Runtime> ParseRuntime(std::string_view flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string_view::npos)
    return Status::Error("--runtime '" + std::string(flag) +
                         "' is not NAME=PATH (e.g. python-3.11=/opt/venv)");
  Runtime r;
  r.name = std::string(flag.substr(0, eq));
  const std::string given(flag.substr(eq + 1));
  if (!ValidName(r.name))
    return Status::Error("--runtime '" + std::string(flag) +
                         "': the name must be 1-128 letters, digits, '.', '-' or '_'");
  if (given.empty())
    return Status::Error("--runtime " + r.name + "= has no PATH; give an interpreter or a directory");
  std::error_code ec;
  r.path = std::filesystem::absolute(given, ec).lexically_normal().string();
  if (ec) return Status::Error("--runtime " + r.name + ": cannot use '" + given + "': " + ec.message());
  if (r.path.size() > 1 && r.path.back() == '/') r.path.pop_back();
  if (IsDirectory(r.path)) {
    r.environment = true;
    r.bin_dir = IsDirectory(r.path + "/bin") ? r.path + "/bin" : r.path;
    for (const char* py : {"python3", "python"}) {
      if (IsExecutableFile(r.bin_dir + "/" + py)) {
        r.python = r.bin_dir + "/" + py;
        break;
      }
    }
  } else if (IsExecutableFile(r.path)) {
    r.python = r.path;
    r.bin_dir = std::filesystem::path(r.path).parent_path().string();
  } else {
    return Status::Error("--runtime " + r.name + ": '" + r.path +
                         "' is neither a directory (an environment, such as a venv) nor an executable "
                         "interpreter; check the path");
  }
  return r;
}

Result<std::map<std::string, Runtime>> ParseRuntimes(const std::vector<std::string>& flags) {
  std::map<std::string, Runtime> out;
  for (const std::string& flag : flags) {
    Result<Runtime> r = ParseRuntime(flag);
    if (!r.ok()) return r.status();
    const std::string name = r->name;
    if (!out.emplace(name, std::move(r).value()).second)
      return Status::Error("--runtime " + name + " is given twice; give each name once");
  }
  return out;
}

void AddRuntimeEnvironment(const Runtime& runtime, std::vector<std::string>& env) {
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& kv : env) {  // the last PATH wins (SpawnSpec::env)
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  // Replaced rather than appended: one PATH, whoever reads the environment (FindProgram takes the first).
  std::erase_if(env, [](const std::string& kv) { return kv.rfind("PATH=", 0) == 0; });
  env.push_back("PATH=" + runtime.bin_dir + (path.empty() ? "" : ":" + path));
  if (runtime.environment) env.push_back("VIRTUAL_ENV=" + runtime.path);
  env.push_back("TITAN_RUNTIME=" + runtime.name);
}

Result<std::string> ResolveCommand(const std::string& command, const Runtime* runtime,
                                   const std::string& worker_python, const std::vector<std::string>& env,
                                   const std::string& cwd) {
  if (runtime != nullptr && !runtime->python.empty() && (command == "python" || command == "python3"))
    return runtime->python;
  if (command.find('/') != std::string::npos) {
    const std::string full = command[0] == '/' ? command : cwd + "/" + command;
    if (IsExecutableFile(full)) return full;
    return Status::Error("command '" + command +
                         "' is not an executable file (relative to the job's directory " + cwd +
                         "); check the path, or upload it with mode 0755");
  }
  if (Result<std::string> found = FindProgram(command, env, cwd); found.ok()) return found;
  if ((command == "python" || command == "python3") && !worker_python.empty()) return worker_python;
  const std::string where = runtime != nullptr ? "in runtime '" + runtime->name + "' (" + runtime->bin_dir +
                                                     ") or on the worker's PATH"
                                               : "on the worker's PATH";
  return Status::Error("command '" + command + "' was not found " + where +
                       "; install it there, give its absolute path, or choose a runtime that has it");
}

}  // namespace titan::exec
