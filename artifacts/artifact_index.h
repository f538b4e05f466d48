// ArtifactIndex: the registry's durable table of published names (SQLite, synchronous=FULL), one row
// per (space, name) pointing at a blob. Single owner; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sqlite_db.h"
#include "status.h"

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
  exec::Status Open(const std::string& path);

  // Inserts or replaces the row for (space, name); durable when it returns ok.
  exec::Status Put(const IndexEntry& entry);
  // nullopt when there is no such row.
  exec::Result<std::optional<IndexEntry>> Get(const std::string& space, const std::string& name);
  // Removing an absent row is fine.
  exec::Status Delete(const std::string& space, const std::string& name);
  // Rows of `space` ("" for all), ordered by space then name.
  exec::Result<std::vector<ArtifactInfo>> List(const std::string& space);
  // How many rows point at the blob `sha256`.
  exec::Result<int64_t> CountRefs(const std::string& sha256);

 private:
  exec::Status Failed(const store::Status& s) const;

  std::string path_;
  store::Db db_;
  store::Statement put_, get_, delete_, list_all_, list_space_, count_refs_;
};

}  // namespace titan::artifacts
