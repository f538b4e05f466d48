// Finding and running the Python apps (see python_app.h).
#include "cli/python_app.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"

namespace titan::cli {

namespace fs = std::filesystem;

std::string PythonApp(const char* override_env) {
  if (const char* own = std::getenv(override_env); own != nullptr && *own != '\0') return own;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path venv = exe.parent_path().parent_path().parent_path() / ".venv" / "bin" / "python";
    if (access(venv.c_str(), X_OK) == 0) return venv.string();
  }
  return "python3";
}

int ExecPythonApp(const std::vector<std::string>& argv, const std::string& what, const char* override_env) {
  std::vector<char*> raw;
  for (const std::string& word : argv) raw.push_back(const_cast<char*>(word.c_str()));
  raw.push_back(nullptr);
  execvp(raw[0], raw.data());
  std::cerr << "titan: cannot run the " << what << " with '" << argv[0] << "': " << std::strerror(errno)
            << "; run cli/install.sh (it installs the " << what << " into .venv) or set " << override_env
            << " to a Python that has it\n";
  return kExitUsage;
}

}  // namespace titan::cli
