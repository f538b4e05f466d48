// errno -> readable text, done once at the OS edge.
#include "base/status.h"

#include <string.h>
#include <unistd.h>

#include <cerrno>

namespace titan {

Status ErrnoStatus(std::string_view what, int err) {
  const char* text = strerrordesc_np(err);  // thread-safe, locale-independent (glibc >= 2.32)
  std::string message(what);
  message += ": ";
  message += text != nullptr ? std::string(text) : "errno " + std::to_string(err);
  return Status::Error(std::move(message)).WithOsError(err);
}

bool IsOutOfSpace(const Status& s) { return s.os_error() == ENOSPC || s.os_error() == EDQUOT; }

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot write " + std::string(what), errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace titan
