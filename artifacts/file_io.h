// Small POSIX helpers shared by the artifacts library (private to artifacts/): writing and reading
// whole buffers over raw fds, fsync of a directory, creating folders. errno becomes text here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::artifacts {

// Streaming read size used everywhere a file is copied or hashed.
inline constexpr size_t kIoChunk = 1 << 20;

// ErrnoStatus(what, err) followed by "; <todo>": one sentence saying what failed and what to do.
Status IoError(std::string_view what, int err, std::string_view todo);

// Writes all of `data` to `fd` at its current position, retrying short writes and EINTR.
// `path` names the file in the error.
Status WriteAll(int fd, std::string_view data, const std::string& path);
// Same at byte `offset` (pwrite); the file position is not used.
Status WriteAllAt(int fd, int64_t offset, std::string_view data, const std::string& path);
// read(2) retrying EINTR: bytes read, 0 at end of file, -1 with errno set.
ssize_t ReadSome(int fd, char* buf, size_t n);

// fsync of the directory `dir`, so that entries created or renamed in it survive a crash.
Status FsyncDir(const std::string& dir);
// mkdir -p. Error: a component cannot be created or is not a folder.
Status MakeDirs(const std::string& dir);
// Copies the regular file `src` to a new file `dst` (which must not exist), streaming, then fsyncs
// it. On error `dst` is removed.
Status CopyNewFile(const std::string& src, const std::string& dst, mode_t mode);

}  // namespace titan::artifacts
