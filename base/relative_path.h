// The rule for a path a job names inside its own directory (work_dir, an upload's path, a volume's
// mount path turned into a link name): checked by the broker at submission and again by the worker
// before it touches the file system.
#pragma once

#include <string>
#include <string_view>

namespace titan {

// Empty when `path` is a usable relative path: not empty, not absolute, no ".." component, no NUL or
// other control character, at most 4096 bytes. Otherwise what is wrong, in words that name `path`
// ("'../x' leaves the job directory (a '..' component)").
std::string RelativePathProblem(std::string_view path);

}  // namespace titan
