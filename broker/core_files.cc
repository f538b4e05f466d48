// BrokerCore: the files jobs run. Content sent with a submission is hashed (SHA-256, with a sampled
// fingerprint so resent content costs a compare), journaled once, and named in perm_files; a job
// naming a file not sent runs the artifact deployed under that name.
#include <spdlog/spdlog.h>

#include "artifacts/artifact_name.h"
#include "artifacts/sha256.h"
#include "broker/broker_core.h"

namespace titan::broker {

// The content a job runs: a file sent with the submission, else the artifact deployed under that
// name (for an archive job, the project zip named by the path's ".zip" component).
std::optional<Message> BrokerCore::ResolveFile(Job& j,
                                               const std::unordered_map<std::string, std::string>& sent) {
  std::string name = j.file;
  if (j.spec.archive.value_or(false)) {
    auto split = artifacts::SplitArchivePath(j.file);
    if (!split) {
      return Invalid("job '" + j.id +
                     "' is an archive job, so its file must be '<project>.zip/<entry>' (for example "
                     "'proj.zip/src/main.py'), not '" +
                     j.file + "'");
    }
    name = split->archive;
  }
  if (auto it = sent.find(name); it != sent.end()) {
    j.file_hash = it->second;
    return std::nullopt;
  }
  if (artifacts_ == nullptr)
    return Invalid("job '" + j.id + "' runs '" + name + "' but the submission has no such file");
  auto deployed = artifacts_->Deployed(name);
  if (!deployed.ok()) {
    return wire::MakeError(ErrorCode::kNotFound,
                           "job '" + j.id + "' runs '" + name +
                               "', which was neither sent with the submission nor deployed (" +
                               deployed.message() + ")");
  }
  j.file_hash = deployed->sha256;
  return std::nullopt;
}

std::string BrokerCore::ContentHash(std::string_view content) {
  // The fingerprint only picks a candidate (the bytes are compared in full below), so it samples: the
  // size and three 256-byte windows, not the whole content.
  constexpr size_t kWindow = 256;
  auto window = [&](size_t at) { return content.substr(std::min(at, content.size()), kWindow); };
  const std::hash<std::string_view> h;
  const uint64_t fingerprint = h(window(0)) ^ (h(window(content.size() / 2)) * 31) ^
                               (h(window(content.size() > kWindow ? content.size() - kWindow : 0)) * 961) ^
                               (content.size() * 0x9E3779B97F4A7C15ull);
  auto known = sha_by_fingerprint_.find(fingerprint);
  if (known != sha_by_fingerprint_.end()) {
    auto file = files_.find(known->second);
    if (file != files_.end() && *file->second == content) return known->second;
  }
  std::string sha = artifacts::Sha256Hex(content);
  sha_by_fingerprint_[fingerprint] = sha;
  return sha;
}

std::optional<Message> BrokerCore::HashFiles(const std::vector<wire::FileBlob>& blobs,
                                             std::unordered_map<std::string, std::string>* files) {
  for (const wire::FileBlob& f : blobs) {
    if (files->count(f.name)) {
      return Invalid("file '" + f.name + "' appears twice in this submission; send each file once");
    }
    if (f.content) {
      (*files)[f.name] = ContentHash(*f.content);
    } else if (f.sha256) {
      const std::string& hash = *f.sha256;
      if (!artifacts::IsSha256Hex(hash)) {
        return Invalid("file '" + f.name + "': sha256 '" + hash + "' is not 64 lowercase hex digits");
      }
      if (!files_.count(hash)) {
        return wire::MakeError(ErrorCode::kNotFound,
                               "file '" + f.name + "' was sent by its sha256 " + hash +
                                   ", which this broker does not have; send its content");
      }
      (*files)[f.name] = hash;
    } else {
      return Invalid("file '" + f.name + "' has neither content nor sha256; send one of them");
    }
  }
  return std::nullopt;
}

Status BrokerCore::JournalFiles(const std::vector<wire::FileBlob>& blobs,
                                const std::unordered_map<std::string, std::string>& files) {
  for (const wire::FileBlob& f : blobs) {
    if (!f.content) continue;                    // sent by its sha256: the broker has it
    const std::string& hash = files.at(f.name);  // HashFiles named each FileBlob
    if (files_.count(hash)) continue;
    auto content = std::make_shared<const std::string>(*f.content);
    if (Status s = journal_->InsertFile(hash, f.name, *content); !s.ok()) return s;
    files_[hash] = std::move(content);
  }
  return Status::Ok();
}

void BrokerCore::StageFiles(const std::vector<wire::FileBlob>& blobs,
                            const std::unordered_map<std::string, std::string>& files, Instant now) {
  if (artifacts_ == nullptr) return;
  for (const wire::FileBlob& f : blobs) {
    const std::string& hash = files.at(f.name);
    auto content = files_.find(hash);
    if (content == files_.end()) continue;
    if (auto st = artifacts_->Stage(f.name, hash, *content->second, now.wall_ms); !st.ok()) {
      spdlog::warn("broker: could not stage '{}' in perm_files ({}); jobs still run it", f.name,
                   st.message());
    }
  }
}

}  // namespace titan::broker
