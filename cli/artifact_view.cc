// Artifact renderings: table, JSON, sizes, rates, progress and summary lines.
#include "cli/artifact_view.h"

#include <cmath>
#include <cstdio>

#include "cli/job_view.h"

namespace titan::cli {

ArtifactView ArtifactFromInfo(const wire::ArtifactInfo& info) {
  return ArtifactView{info.space, info.name, info.sha256, info.size, info.created_ms};
}

ArtifactView ArtifactFromDatum(const wire::Datum& d) {
  const Result<wire::ArtifactInfo> info = wire::ArtifactInfo::From(d);
  return info.ok() ? ArtifactFromInfo(info.value()) : ArtifactView{};
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string FormatRate(int64_t bytes, double seconds) {
  const double mb_s = seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
  char buf[32];
  if (mb_s >= 100 || mb_s == 0) {
    std::snprintf(buf, sizeof buf, "%.0f MB/s", mb_s);
  } else if (mb_s >= 1) {
    std::snprintf(buf, sizeof buf, "%.1f MB/s", mb_s);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f MB/s", mb_s);
  }
  return buf;
}

std::string ShortHash(std::string_view sha256) {
  constexpr size_t kShown = 12;
  if (sha256.size() <= kShown) return std::string(sha256);
  return std::string(sha256.substr(0, kShown)) + "\u2026";
}

std::string RenderArtifactTable(const std::vector<ArtifactView>& artifacts) {
  std::vector<std::vector<std::string>> rows = {{"SPACE", "NAME", "SIZE", "SHA256", "CREATED"}};
  for (const ArtifactView& a : artifacts) {
    // A plain prefix: the columns are padded by bytes, and an ellipsis is three of them.
    rows.push_back({a.space, a.name, FormatBytes(a.size), a.sha256.substr(0, 12), FormatTime(a.created_ms)});
  }
  return RenderColumns(rows);
}

std::string RenderArtifactsJson(const std::vector<ArtifactView>& artifacts) {
  std::string out = "[";
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const ArtifactView& a = artifacts[i];
    out += std::string(i ? ",\n " : "\n ") + "{\"space\":" + JsonString(a.space) +
           ",\"name\":" + JsonString(a.name) + ",\"sha256\":" + JsonString(a.sha256) +
           ",\"size\":" + std::to_string(a.size) + ",\"created_ms\":" + std::to_string(a.created_ms) + "}";
  }
  return out + (artifacts.empty() ? "]\n" : "\n]\n");
}

std::string RenderProgress(std::string_view verb, std::string_view what, int64_t done, int64_t total,
                           double seconds) {
  std::string line =
      std::string(verb) + " " + std::string(what) + "  " + FormatBytes(done) + " / " + FormatBytes(total);
  const int pct =
      total > 0 ? static_cast<int>(100 * static_cast<double>(done) / static_cast<double>(total)) : 100;
  line += "  " + std::to_string(pct) + "%";
  if (done <= 0 || seconds <= 0) return line;
  line += "  " + FormatRate(done, seconds);
  const double left = static_cast<double>(total - done) * seconds / static_cast<double>(done);
  const auto s = static_cast<int64_t>(std::ceil(left));
  char buf[48];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "  %lld:%02lld:%02lld left", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "  %lld:%02lld left", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return line + buf;
}

std::string RenderSummary(std::string_view verb, const ArtifactView& a, std::string_view detail,
                          double seconds) {
  std::string line = std::string(verb) + " " + a.space + "/" + a.name;
  if (!detail.empty()) line += " " + std::string(detail);
  return line + ": " + FormatBytes(a.size) + ", sha256 " + ShortHash(a.sha256) + ", " +
         FormatRate(a.size, seconds);
}

}  // namespace titan::cli
