// Registry name validation and the split of "<project>.zip/<entry>" paths.
#include "artifacts/artifact_name.h"

#include <cstdio>

namespace titan::artifacts {
namespace {

bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// The name as shown in messages: control characters as \xNN, cut after 128 bytes.
std::string Quote(std::string_view name) {
  constexpr size_t kShown = 128;
  std::string out = "'";
  for (size_t i = 0; i < name.size() && i < kShown; ++i) {
    if (IsControl(name[i])) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\x%02x", static_cast<unsigned char>(name[i]));
      out += esc;
    } else {
      out += name[i];
    }
  }
  if (name.size() > kShown) out += "...";
  return out + "'";
}

Status Refuse(std::string_view name, std::string_view why) {
  return Status::Error("artifact name " + Quote(name) + " " + std::string(why));
}

Status ValidateComponents(std::string_view name) {
  size_t start = 0;
  for (;;) {
    const size_t slash = name.find('/', start);
    const std::string_view part = name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty()) return Refuse(name, "has an empty component: remove the doubled or trailing '/'");
    if (part == ".") return Refuse(name, "is not allowed: remove its '.' components");
    if (part == "..") return Refuse(name, "is not allowed: use a relative name without '..' components");
    if (part.size() > kMaxComponentBytes) {
      return Refuse(name, "has a component longer than 255 bytes: shorten it");
    }
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

bool EndsWithZip(std::string_view part) {
  if (part.size() < 4) return false;
  std::string tail(part.substr(part.size() - 4));
  for (char& c : tail) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return tail == ".zip";
}

}  // namespace

Status ValidateName(std::string_view name) {
  if (name.empty()) return Refuse(name, "is empty: give a relative name such as 'scripts/run.py'");
  if (name.size() > kMaxNameBytes) {
    return Refuse(name,
                  "is longer than 1024 bytes (" + std::to_string(name.size()) + "): use a shorter name");
  }
  for (char c : name) {
    if (IsControl(c)) return Refuse(name, "contains a control character: use printable characters only");
    if (c == '\\') return Refuse(name, "contains a backslash: separate folders with '/'");
  }
  if (name.front() == '/') return Refuse(name, "is absolute: use a relative name, without the leading '/'");
  return ValidateComponents(name);
}

std::optional<ArchivePath> SplitArchivePath(std::string_view file) {
  size_t start = 0;
  while (start < file.size()) {
    const size_t slash = file.find('/', start);
    if (slash == std::string_view::npos) return std::nullopt;  // the last component has no entry after it
    if (EndsWithZip(file.substr(start, slash - start))) {
      if (slash + 1 == file.size()) return std::nullopt;
      return ArchivePath{std::string(file.substr(0, slash)), std::string(file.substr(slash + 1))};
    }
    start = slash + 1;
  }
  return std::nullopt;
}

}  // namespace titan::artifacts
