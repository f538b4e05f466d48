// errno -> readable text, done once at the OS edge.
#include "base/status.h"

#include <string.h>

namespace titan {

Status ErrnoStatus(std::string_view what, int err) {
  const char* text = strerrordesc_np(err);  // thread-safe, locale-independent (glibc >= 2.32)
  std::string message(what);
  message += ": ";
  message += text != nullptr ? std::string(text) : "errno " + std::to_string(err);
  return Status::Error(std::move(message));
}

}  // namespace titan
