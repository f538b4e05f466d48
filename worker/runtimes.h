// Runtimes: named interpreters or environments a worker offers (`titan worker --runtime NAME=PATH`),
// and how a job that names one is started with it (docs/job-control.md).
//   PATH a directory: an environment (a venv, a conda env, an install prefix). Its bin/ (the directory
//     itself when it has no bin/) comes first on the job's PATH; its bin/python3 (or bin/python) runs
//     .py scripts and the commands "python"/"python3"; VIRTUAL_ENV names it.
//   PATH an executable file: an interpreter. It runs .py scripts and the commands "python"/"python3";
//     its directory comes first on the job's PATH.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace titan::exec {

struct Runtime {
  std::string name;
  std::string path;     // as given, made absolute (symbolic links kept: a venv's python is one)
  std::string bin_dir;  // first on the job's PATH
  std::string python;   // runs .py scripts; empty: an environment without a Python (scripts use the worker's)
  bool environment = false;  // PATH was a directory
};

// Parses one --runtime flag: "NAME=PATH". Errors say what to fix: no '=', an empty or odd NAME (letters,
// digits, '.', '-', '_'), a PATH that does not exist or is neither a directory nor an executable file.
Result<Runtime> ParseRuntime(std::string_view flag);

// The runtimes of a worker, by name; a name given twice is an error.
Result<std::map<std::string, Runtime>> ParseRuntimes(const std::vector<std::string>& flags);

// `env` with the runtime's bin directory first on PATH (and VIRTUAL_ENV for an environment), plus
// TITAN_RUNTIME=<name>.
void AddRuntimeEnvironment(const Runtime& runtime, std::vector<std::string>& env);

// The program to exec for a command job: "python"/"python3" with a runtime that has a Python is that
// Python; else `command` is looked up on `env`'s PATH (which AddRuntimeEnvironment put the runtime's
// bin first on), a name with a '/' taken from `cwd`; "python"/"python3" found nowhere is
// `worker_python` (the worker's own, which runs .py scripts: Debian has no "python"). Error: "command 'x' was
// not found in runtime 'r' (bin /p) or on the worker's PATH; ...".
Result<std::string> ResolveCommand(const std::string& command, const Runtime* runtime,
                                   const std::string& worker_python, const std::vector<std::string>& env,
                                   const std::string& cwd);

}  // namespace titan::exec
