// ArtifactIndex: the registry's durable table of published names (SQLite, synchronous=FULL), one row
// per (space, name) pointing at a blob. Single owner; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_db.h"
#include "base/status.h"

namespace titan::artifacts {

struct ArtifactInfo {
  std::string space, name, sha256;
  int64_t size = 0;
  int64_t created_ms = 0;
  bool operator==(const ArtifactInfo&) const = default;
};

// A row: the artifact, plus the modification time (ns since the epoch) of its visible file when it
// was recorded, so a file changed by hand can be told apart.
struct IndexEntry {
  ArtifactInfo info;
  int64_t mtime_ns = 0;
};

class ArtifactIndex {
 public:
  // Opens or creates the database at `path`. Must succeed before any other call.
  Status Open(const std::string& path);

  // Inserts or replaces the row for (space, name); durable when it returns ok.
  Status Put(const IndexEntry& entry);
  // nullopt when there is no such row.
  Result<std::optional<IndexEntry>> Get(const std::string& space, const std::string& name);
  // Removing an absent row is fine.
  Status Delete(const std::string& space, const std::string& name);
  // Rows of `space` ("" for all), ordered by space then name.
  Result<std::vector<ArtifactInfo>> List(const std::string& space);
  // How many rows point at the blob `sha256`.
  Result<int64_t> CountRefs(const std::string& sha256);

 private:
  Status Failed(const Status& s) const;

  std::string path_;
  sqlite::Db db_;
  sqlite::Statement put_, get_, delete_, list_all_, list_space_, count_refs_;
};

}  // namespace titan::artifacts
