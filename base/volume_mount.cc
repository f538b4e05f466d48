// Volume names and "NAME:/path" mounts.
#include "base/volume_mount.h"

#include <algorithm>
#include <cctype>

#include "base/relative_path.h"

namespace titan {

Status CheckVolumeName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 && name.front() != '.' &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                  });
  if (ok) return Status::Ok();
  return Status::Error("volume name '" + std::string(name.substr(0, 100)) +
                       "' is not 1-64 letters, digits, '-', '_' or '.' (not starting with '.')");
}

Result<VolumeMount> ParseVolumeMount(std::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos)
    return Status::Error("volume '" + std::string(spec) + "' is not NAME:/path (e.g. data:/data)");
  VolumeMount m{std::string(spec.substr(0, colon)), std::string(spec.substr(colon + 1)), {}};
  if (Status s = CheckVolumeName(m.name); !s.ok()) return s;
  if (m.path.empty() || m.path.front() != '/')
    return Status::Error("volume '" + std::string(spec) + "': the mount path must be absolute (e.g. /data)");
  m.link = m.path.substr(m.path.find_first_not_of('/') == std::string::npos ? m.path.size()
                                                                            : m.path.find_first_not_of('/'));
  while (!m.link.empty() && m.link.back() == '/') m.link.pop_back();
  if (m.link.empty())
    return Status::Error("volume '" + std::string(spec) + "': the mount path cannot be '/'");
  if (std::string problem = RelativePathProblem(m.link); !problem.empty())
    return Status::Error("volume '" + std::string(spec) + "': " + problem);
  return m;
}

Result<int64_t> ParseVolumeSize(std::string_view text) {
  const std::string given(text);
  auto bad = [&] {
    return Status::Error("volume size '" + given.substr(0, 100) +
                         "' is not a size; give bytes or a number with a unit, e.g. 500MB, 1GB (1024-based)");
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 16) return bad();
  int64_t n = std::stoll(std::string(text.substr(0, digits)));
  std::string unit;
  for (char c : text.substr(digits)) {
    if (c != ' ') unit.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (unit.size() == 3 && unit[1] == 'I' && unit[2] == 'B') unit = unit.substr(0, 1);  // KiB -> K
  if (unit.size() == 2 && unit[1] == 'B') unit = unit.substr(0, 1);                    // KB -> K
  static const std::string kUnits = "BKMGT";
  const size_t power = unit.empty() ? 0 : kUnits.find(unit);
  if (unit.size() > 1 || power == std::string::npos) return bad();
  constexpr int64_t kMax = int64_t{1} << 50;  // 1 PiB
  for (size_t i = 0; i < power; ++i) {
    if (n > kMax) break;
    n *= 1024;
  }
  if (n <= 0 || n > kMax)
    return Status::Error("volume size '" + given.substr(0, 100) + "' must be from 1 byte to 1 PiB");
  return n;
}

std::string VolumeEnvName(std::string_view name) {
  std::string out = "TITAN_VOLUME_";
  for (char c : name)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(static_cast<unsigned char>(c))
                                                              : '_');
  return out;
}

}  // namespace titan
