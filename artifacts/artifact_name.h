// Artifact names: what a registry name may look like, and how a path into a zipped project
// ("proj.zip/src/main.py") splits into the archive and the entry inside it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::artifacts {

inline constexpr size_t kMaxNameBytes = 1024;
inline constexpr size_t kMaxComponentBytes = 255;

// A registry name is a relative path of '/'-separated components. Refused, with a message quoting
// the name and saying what to use instead: empty, longer than kMaxNameBytes or with a component
// longer than kMaxComponentBytes, absolute ("/x"), an empty, "." or ".." component (so "a//b" and
// "a/" too), a backslash, NUL or any other control character.
Status ValidateName(std::string_view name);

struct ArchivePath {
  std::string archive;  // up to and including the first component ending in ".zip"
  std::string entry;    // the rest, inside the archive; never empty
  bool operator==(const ArchivePath&) const = default;
};

// "proj.zip/src/main.py" -> {"proj.zip", "src/main.py"}; "a/b/proj.zip/main.py" -> {"a/b/proj.zip",
// "main.py"}. The archive is the first component ending in ".zip" (any case). nullopt when no
// component does, or nothing follows it. Only splits: validate the parts separately.
std::optional<ArchivePath> SplitArchivePath(std::string_view file);

}  // namespace titan::artifacts
