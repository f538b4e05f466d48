// RelativePathProblem: a path confined to a job's directory, by its spelling alone (the worker also
// refuses symbolic links on the way: worker/job_files.h).
#include "base/relative_path.h"

#include <algorithm>

namespace titan {

std::string RelativePathProblem(std::string_view path) {
  const std::string quoted = "'" + std::string(path.substr(0, 200)) + "'";
  if (path.empty()) return "the path is empty";
  if (path.size() > 4096) return quoted + "... is longer than 4096 bytes";
  if (path.front() == '/') return quoted + " is absolute; give a path relative to the job directory";
  if (std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return quoted + " has a control character";
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..")
      return quoted + " leaves the job directory (a '..' component); give a path inside it";
    start = end + 1;
  }
  return {};
}

}  // namespace titan
