// ArtifactIndex over sqlite::Db: schema, and one prepared statement per operation.
#include "artifacts/artifact_index.h"

namespace titan::artifacts {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS artifacts(
  space TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, mtime_ns INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(space, name));
CREATE INDEX IF NOT EXISTS artifacts_by_sha256 ON artifacts(sha256);
)sql";

constexpr std::string_view kColumns = "space, name, sha256, size, created_ms, mtime_ns";

IndexEntry ReadRow(sqlite::Statement& s) {
  IndexEntry e;
  e.info.space = std::string(s.ColumnBlob(0));
  e.info.name = std::string(s.ColumnBlob(1));
  e.info.sha256 = std::string(s.ColumnBlob(2));
  e.info.size = s.ColumnInt(3);
  e.info.created_ms = s.ColumnInt(4);
  e.mtime_ns = s.ColumnInt(5);
  return e;
}

}  // namespace

Status ArtifactIndex::Failed(const Status& s) const {
  return Status::Error("artifact index '" + path_ + "' failed (" + s.message() +
                       "); check the disk, or restore the file from a backup");
}

Status ArtifactIndex::Open(const std::string& path) {
  path_ = path;
  if (Status s = db_.Open(path, /*durable=*/true); !s.ok()) return Failed(s);
  if (Status s = db_.Exec(kSchema); !s.ok()) return Failed(s);
  const std::string cols(kColumns);
  const std::pair<std::string, sqlite::Statement*> statements[] = {
      {"INSERT OR REPLACE INTO artifacts(" + cols + ") VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &put_},
      {"SELECT " + cols + " FROM artifacts WHERE space = ?1 AND name = ?2", &get_},
      {"DELETE FROM artifacts WHERE space = ?1 AND name = ?2", &delete_},
      {"SELECT " + cols + " FROM artifacts ORDER BY space, name", &list_all_},
      {"SELECT " + cols + " FROM artifacts WHERE space = ?1 ORDER BY name", &list_space_},
      {"SELECT COUNT(*) FROM artifacts WHERE sha256 = ?1", &count_refs_},
  };
  for (const auto& [sql, stmt] : statements) {
    if (Status s = db_.Prepare(sql, stmt); !s.ok()) return Failed(s);
  }
  return Status::Ok();
}

Status ArtifactIndex::Put(const IndexEntry& e) {
  put_.Reset();
  put_.Bind(1, e.info.space).Bind(2, e.info.name).Bind(3, e.info.sha256);
  put_.Bind(4, e.info.size).Bind(5, e.info.created_ms).Bind(6, e.mtime_ns);
  put_.Step();
  return put_.status().ok() ? Status::Ok() : Failed(put_.status());
}

Result<std::optional<IndexEntry>> ArtifactIndex::Get(const std::string& space, const std::string& name) {
  get_.Reset();
  get_.Bind(1, space).Bind(2, name);
  std::optional<IndexEntry> out;
  if (get_.Step()) out = ReadRow(get_);
  if (!get_.status().ok()) return Failed(get_.status());
  get_.Reset();  // ends the read, so it holds no snapshot
  return out;
}

Status ArtifactIndex::Delete(const std::string& space, const std::string& name) {
  delete_.Reset();
  delete_.Bind(1, space).Bind(2, name);
  delete_.Step();
  return delete_.status().ok() ? Status::Ok() : Failed(delete_.status());
}

Result<std::vector<ArtifactInfo>> ArtifactIndex::List(const std::string& space) {
  sqlite::Statement& s = space.empty() ? list_all_ : list_space_;
  s.Reset();
  if (!space.empty()) s.Bind(1, space);
  std::vector<ArtifactInfo> out;
  while (s.Step()) out.push_back(ReadRow(s).info);
  if (!s.status().ok()) return Failed(s.status());
  return out;
}

Result<int64_t> ArtifactIndex::CountRefs(const std::string& sha256) {
  count_refs_.Reset();
  count_refs_.Bind(1, sha256);
  const int64_t n = count_refs_.Step() ? count_refs_.ColumnInt(0) : 0;
  if (!count_refs_.status().ok()) return Failed(count_refs_.status());
  count_refs_.Reset();
  return n;
}

}  // namespace titan::artifacts
