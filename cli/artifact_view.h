// Pure renderings for the artifact commands: the ArtifactInfo struct read from the wire, the
// `titan artifacts` table and JSON, byte counts for people, and the progress and summary lines of a
// transfer. No sockets, no clock: callers pass times, so tests get stable strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::cli {

// An ArtifactInfo of the protocol, as the CLI shows it.
struct ArtifactView {
  std::string space, name, sha256;
  int64_t size = 0;
  int64_t created_ms = 0;
};
ArtifactView ArtifactFromInfo(const wire::ArtifactInfo& info);
// The same from an ArtifactInfo map; a map that is not an ArtifactInfo gives an empty view.
ArtifactView ArtifactFromDatum(const wire::Datum& d);

// Binary units with one decimal from KiB on: "512 B", "1.5 KiB", "100.0 MiB", "1.0 GiB".
std::string FormatBytes(int64_t bytes);
// Decimal megabytes per second, as disks and links are rated: "310 MB/s", "4.2 MB/s", "0.05 MB/s".
std::string FormatRate(int64_t bytes, double seconds);
// The first 12 hex digits and an ellipsis: "ab12cd34ef56…"; a shorter hash whole.
std::string ShortHash(std::string_view sha256);

// `titan artifacts`: SPACE NAME SIZE SHA256 (its first 12 hex digits) CREATED, one row per artifact,
// in the order given.
std::string RenderArtifactTable(const std::vector<ArtifactView>& artifacts);
// `titan artifacts --json`: a JSON array of objects keyed by the ArtifactInfo field names.
std::string RenderArtifactsJson(const std::vector<ArtifactView>& artifacts);

// One progress line of a transfer phase (no newline):
//   "uploading x.bin  42.0 MiB / 100.0 MiB  42%  310 MB/s  0:03 left"
// `verb` names the phase ("hashing", "uploading", "downloading"); `seconds` is the time spent in it.
// Before any byte has moved the rate and time left are left out.
std::string RenderProgress(std::string_view verb, std::string_view what, int64_t done, int64_t total,
                           double seconds);

// The one line a finished transfer prints on stdout:
//   "uploaded uploads/x.bin: 100.0 MiB, sha256 ab12cd34ef56…, 310 MB/s"
// `detail`, when not empty, is inserted after the artifact ("to ./x.bin").
std::string RenderSummary(std::string_view verb, const ArtifactView& a, std::string_view detail,
                          double seconds);

}  // namespace titan::cli
