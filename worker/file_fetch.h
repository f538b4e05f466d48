// FileFetch: gets job files the worker lacks from the broker, by content hash, into the worker's
// cache (a BlobStore). Pulls ARTIFACT_READ chunks with at most `credit` in flight per file (the
// ZeroMQ guide's credit-based transfer), so memory stays bounded whatever the file size; the content
// is verified against its hash before it enters the cache. Owned and driven by the worker loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "artifacts/blob_store.h"
#include "base/status.h"
#include "schemas/generated/messages.h"

namespace titan::worker {

class FileFetch {
 public:
  FileFetch(artifacts::BlobStore* cache, int credit, int64_t chunk_bytes);

  // true when `sha256` is in the cache; false when its fetch is started (or joined); an error when
  // the cache cannot take it (bad hash, unknown size, disk).
  Result<bool> Need(const std::string& sha256, int64_t size);

  // ARTIFACT_READ requests that may go now (each with a `rid`). Requests the socket refuses must be
  // given back with Unsent.
  std::vector<wire::Message> TakeRequests();
  void Unsent(std::vector<wire::Message> requests);

  struct Ended {
    std::string sha256;
    Status status;  // ok: in the cache now
  };
  // Feeds the reply carrying request id `rid`: an ARTIFACT_DATA, or an ERROR. Returns fetches that
  // ended (ok or failed); replies to requests that are not ours (any more) are ignored.
  std::vector<Ended> OnReply(int64_t rid, const wire::Message& msg);
  // The broker connection was re-established: requests in flight were lost, ask again.
  void Restart();

  bool idle() const { return fetches_.empty(); }
  int64_t cache_hits() const { return hits_; }
  int64_t fetched_bytes() const { return fetched_bytes_; }

 private:
  struct Fetch {
    artifacts::BlobWriter writer;
    int64_t size = 0;
    int64_t next_offset = 0;                 // the next byte to request
    std::map<int64_t, int64_t> in_flight;    // rid -> offset
    std::map<int64_t, std::string> arrived;  // offset -> bytes, until the writer reaches them
  };
  void Fill(const std::string& sha256, Fetch& f);
  // How the reply to the read at `offset` ends the fetch, if it does.
  std::optional<Ended> Answer(const std::string& sha256, Fetch& f, int64_t offset, const wire::Message& msg);
  std::optional<Ended> Accept(const std::string& sha256, Fetch& f, int64_t offset, std::string bytes);

  artifacts::BlobStore* cache_;
  int credit_;
  int64_t chunk_bytes_;
  std::map<std::string, Fetch> fetches_;      // by sha256
  std::map<int64_t, std::string> rid_owner_;  // rid -> sha256
  std::vector<wire::Message> ready_;          // requests to send
  int64_t next_rid_ = 1;
  int64_t hits_ = 0;
  int64_t fetched_bytes_ = 0;
};

}  // namespace titan::worker
