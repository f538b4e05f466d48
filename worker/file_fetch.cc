// FileFetch: credit-windowed ARTIFACT_READs per missing file, reassembled in order into the cache.
#include "worker/file_fetch.h"

namespace titan::worker {

using wire::Datum;
using wire::MsgType;

FileFetch::FileFetch(artifacts::BlobStore* cache, int credit, int64_t chunk_bytes)
    : cache_(cache), credit_(credit), chunk_bytes_(chunk_bytes) {}

Result<bool> FileFetch::Need(const std::string& sha256, int64_t size) {
  if (cache_->Has(sha256)) {
    ++hits_;
    return true;
  }
  if (fetches_.count(sha256)) return false;
  if (size < 0) return Status::Error("the broker did not say how large file " + sha256 + " is");
  auto writer = cache_->Begin(size, sha256);
  if (!writer.ok()) return writer.status();
  if (size == 0) {
    auto done = writer->Commit();
    if (!done.ok()) return done.status();
    return true;
  }
  Fetch& f = fetches_.emplace(sha256, Fetch{std::move(writer.value()), size, 0, {}, {}}).first->second;
  Fill(sha256, f);
  return false;
}

// Tops the window up to `credit_` requests in flight.
void FileFetch::Fill(const std::string& sha256, Fetch& f) {
  while (static_cast<int>(f.in_flight.size() + f.arrived.size()) < credit_ && f.next_offset < f.size) {
    const int64_t rid = next_rid_++;
    const int64_t length = std::min(chunk_bytes_, f.size - f.next_offset);
    wire::Message read =
        wire::ArtifactReadMsg{.sha256 = sha256, .offset = f.next_offset, .length = length}.ToMessage();
    read.Set("rid", Datum(rid));  // the envelope's request id: no struct has it
    ready_.push_back(std::move(read));
    f.in_flight[rid] = f.next_offset;
    rid_owner_[rid] = sha256;
    f.next_offset += length;
  }
}

std::vector<wire::Message> FileFetch::TakeRequests() {
  std::vector<wire::Message> out;
  out.swap(ready_);
  return out;
}

void FileFetch::Unsent(std::vector<wire::Message> requests) {
  requests.insert(requests.end(), std::make_move_iterator(ready_.begin()),
                  std::make_move_iterator(ready_.end()));
  ready_ = std::move(requests);
}

std::vector<FileFetch::Ended> FileFetch::OnReply(int64_t rid, const wire::Message& msg) {
  std::vector<Ended> ended;
  auto owner = rid_owner_.find(rid);
  if (owner == rid_owner_.end()) return ended;  // a reply to a request from before a restart
  const std::string sha256 = owner->second;
  rid_owner_.erase(owner);
  auto it = fetches_.find(sha256);
  if (it == fetches_.end()) return ended;
  Fetch& f = it->second;
  auto flight = f.in_flight.find(rid);
  if (flight == f.in_flight.end()) return ended;
  const int64_t offset = flight->second;
  f.in_flight.erase(flight);
  if (std::optional<Ended> end = Answer(sha256, f, offset, msg)) {
    for (const auto& [r, o] : f.in_flight) rid_owner_.erase(r);
    fetches_.erase(it);  // an unfinished writer removes its partial file
    ended.push_back(std::move(*end));
  } else {
    Fill(sha256, f);
  }
  return ended;
}

std::optional<FileFetch::Ended> FileFetch::Answer(const std::string& sha256, Fetch& f, int64_t offset,
                                                  const wire::Message& msg) {
  if (msg.type == MsgType::kError) {
    const Result<wire::ErrorMsg> error = wire::ErrorMsg::From(msg);
    return Ended{sha256,
                 Status::Error("cannot fetch the job's file (sha256 " + sha256 +
                               ") from the broker: " + (error.ok() ? error->reason : error.message()))};
  }
  Result<wire::ArtifactDataMsg> data = wire::ArtifactDataMsg::From(msg);
  if (!data.ok() || data->blobs.size() != 1 || data->offset != offset) {
    return Ended{sha256,
                 Status::Error("the broker answered a file read with " + std::string(wire::NameOf(msg.type)) +
                               " out of order; try the job again")};
  }
  fetched_bytes_ += static_cast<int64_t>(data->blobs.front().size());
  return Accept(sha256, f, offset, std::move(data->blobs.front()));
}

// Appends what is now contiguous; commits (hash check) once the last byte is in.
std::optional<FileFetch::Ended> FileFetch::Accept(const std::string& sha256, Fetch& f, int64_t offset,
                                                  std::string bytes) {
  if (bytes.empty()) {
    return Ended{sha256, Status::Error("the broker's copy of file " + sha256 + " is shorter than announced")};
  }
  f.arrived.emplace(offset, std::move(bytes));
  while (!f.arrived.empty() && f.arrived.begin()->first == f.writer.received()) {
    if (auto st = f.writer.Append(f.arrived.begin()->first, f.arrived.begin()->second); !st.ok()) {
      return Ended{sha256, st};
    }
    f.arrived.erase(f.arrived.begin());
  }
  if (f.writer.received() < f.size) return std::nullopt;
  auto committed = f.writer.Commit();
  if (!committed.ok()) return Ended{sha256, committed.status()};
  return Ended{sha256, Status::Ok()};
}

void FileFetch::Restart() {
  ready_.clear();
  rid_owner_.clear();
  for (auto& [sha256, f] : fetches_) {
    f.in_flight.clear();
    f.arrived.clear();
    f.next_offset = f.writer.received();
    Fill(sha256, f);
  }
}

}  // namespace titan::worker
