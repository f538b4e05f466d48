// Measuring a runtime: its size on disk and its Python distributions.
#include "worker/runtime_facts.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace titan::exec {
namespace fs = std::filesystem;

namespace {

// The sum of the regular files' sizes under `root`, links not followed; nullopt past `max_entries`.
std::optional<int64_t> DirectoryBytes(const fs::path& root, int64_t max_entries) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return std::nullopt;
  int64_t bytes = 0, entries = 0;
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return std::nullopt;
    if (++entries > max_entries) return std::nullopt;
    std::error_code kind_ec;
    const fs::file_status status = it->symlink_status(kind_ec);
    if (kind_ec || !fs::is_regular_file(status)) continue;
    std::error_code size_ec;
    const uintmax_t size = it->file_size(size_ec);
    if (!size_ec) bytes += static_cast<int64_t>(size);
  }
  return bytes;
}

// Every lib*/python*/site-packages directory of the environment at `root`.
std::vector<fs::path> SitePackages(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& lib : fs::directory_iterator(root, ec)) {
    const std::string name = lib.path().filename().string();
    if (!name.starts_with("lib") || !lib.is_directory(ec)) continue;
    std::error_code inner;
    for (const fs::directory_entry& py : fs::directory_iterator(lib.path(), inner)) {
      if (!py.path().filename().string().starts_with("python")) continue;
      if (fs::is_directory(py.path() / "site-packages", inner)) out.push_back(py.path() / "site-packages");
    }
  }
  return out;
}

}  // namespace

std::string DistributionOf(const std::string& dist_info_dir) {
  constexpr std::string_view kSuffix = ".dist-info";
  if (!dist_info_dir.ends_with(kSuffix)) return "";
  const std::string stem = dist_info_dir.substr(0, dist_info_dir.size() - kSuffix.size());
  const size_t dash = stem.find('-');  // names are normalized: '-' separates name and version only
  if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) return "";
  return stem.substr(0, dash) + "==" + stem.substr(dash + 1);
}

wire::RuntimeInfo MeasureRuntime(const Runtime& runtime, int64_t max_entries) {
  wire::RuntimeInfo info{.name = runtime.name};
  if (!runtime.environment) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(fs::canonical(runtime.path, ec), ec);
    if (!ec) info.size_bytes = static_cast<int64_t>(size);
    return info;
  }
  info.size_bytes = DirectoryBytes(runtime.path, max_entries);
  std::vector<std::string> packages;
  for (const fs::path& site : SitePackages(runtime.path)) {
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(site, ec)) {
      if (std::string d = DistributionOf(e.path().filename().string()); !d.empty()) packages.push_back(d);
    }
  }
  std::sort(packages.begin(), packages.end());
  packages.erase(std::unique(packages.begin(), packages.end()), packages.end());
  if (packages.size() > kMaxRuntimePackages) packages.resize(kMaxRuntimePackages);
  info.packages = std::move(packages);
  return info;
}

}  // namespace titan::exec
