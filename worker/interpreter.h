// Which program runs a job file: .py with the resolved Python, .sh with bash, .jar with java -jar,
// anything else directly. The Python interpreter is resolved once, when the worker starts.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace titan::exec {

// Programs used to run job files; bare names are looked up on the job's PATH at spawn time.
struct Toolchain {
  std::string python = "python3";
  std::string bash = "bash";
  std::string java = "java";
};

// Resolves the Python interpreter: TITAN_PYTHON from `env` when set and non-empty; else the absolute
// sys.executable that `python3` (found on env's PATH) reports, so jobs skip a pyenv-style shim (~70 ms
// per start); else plain "python3". Runs python3 at most once and blocks up to `timeout`: call it at
// startup, before the loop, and keep the result. bash and java become the absolute paths found on env's
// PATH (left as bare names when not found, for the spawn to report).
Toolchain ResolveToolchain(const std::vector<std::string>& env,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

// argv for `job_file` followed by the words of `args` (split by SplitArgs). A relative `job_file` is
// taken from the worker's working directory and appears in argv as an absolute path, so the job may run
// in any cwd. Extensions are matched without regard to case. Errors: the file is missing or a
// directory, a file with no known extension is not executable, or `args` has broken quoting.
Result<std::vector<std::string>> CommandFor(const std::string& job_file, std::string_view args,
                                            const Toolchain& tools);

}  // namespace titan::exec
