// The private parts of ArtifactTransfer shared by its three source files (artifact_transfer.cc: the
// socket and single requests; artifact_upload_io.cc: uploads; artifact_download_io.cc: downloads):
// limits, local file I/O and turning replies into TransferStatus. Not for other callers.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "artifacts/sha256.h"
#include "base/unique_fd.h"
#include "cli/artifact_transfer.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

using Kind = TransferStatus::Kind;
using wire::Datum;
using wire::Message;
using wire::MsgType;

namespace transfer_io {

inline constexpr int kAbortWaitMs = 2000;
inline constexpr int64_t kCommitBytesPerMs =
    20'000;  // COMMIT fsyncs the whole file: allow 20 MB/s on top of the timeout
inline constexpr int kMaxCredit = 64;
inline constexpr int64_t kHashPiece = int64_t{1} << 20;

inline std::string_view View(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

// "10 s", "1.5 s", "200 ms".
inline std::string Span(int ms) {
  if (ms < 1000) return std::to_string(ms) + " ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

inline TransferStatus LocalError(const std::string& what, int err, const std::string& todo) {
  return TransferStatus::Error(Kind::kLocal, what + ": " + std::strerror(err) + "; " + todo);
}

// A file descriptor closed on scope exit.
using Fd = exec::UniqueFd;

// Reads exactly `n` bytes at `offset`; false with errno set on error, or errno 0 when the file ended first.
inline bool ReadFull(int fd, char* buf, int64_t n, int64_t offset) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, buf, static_cast<size_t>(n), offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return false;
    }
    buf += r;
    n -= r;
    offset += r;
  }
  return true;
}

inline bool WriteFull(int fd, const char* buf, int64_t n, int64_t offset) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, buf, static_cast<size_t>(n), offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    buf += w;
    n -= w;
    offset += w;
  }
  return true;
}

// An ERROR reply as a status: "<context>: CODE: reason" (NOT_FOUND becomes kNotFound).
inline TransferStatus Refused(const Message& error, const std::string& context) {
  const Result<wire::ErrorMsg> e = wire::ErrorMsg::From(error);  // Decode checked its fields
  const std::string code = e.ok() ? e.value().code : "ERROR";
  return TransferStatus::Error(code == "NOT_FOUND" ? Kind::kNotFound : Kind::kRefused,
                               context + ": " + code + ": " + (e.ok() ? e.value().reason : e.message()),
                               code);
}

// An ARTIFACT_DATA header and its blob of `got` bytes against the read of `length` bytes at `offset`
// of content of `size` bytes.
inline TransferStatus CheckData(const Message& header, size_t got, int64_t offset, int64_t length,
                                int64_t size) {
  const Result<wire::ArtifactDataMsg> data = wire::ArtifactDataMsg::From(header);
  const int64_t at = data.ok() ? data.value().offset : -1, of = data.ok() ? data.value().size : -1;
  if (at == offset && of == size && static_cast<int64_t>(got) == length) return {};
  return TransferStatus::Error(
      Kind::kRefused, "the broker answered the read of " + std::to_string(length) + " bytes at offset " +
                          std::to_string(offset) + " with " + std::to_string(got) + " bytes at offset " +
                          std::to_string(at) + " of " + std::to_string(of) + "; try again");
}

// Compares the downloaded content's hash (`digest`, or the file at `partial` hashed now when empty)
// with the one the broker announced.
inline TransferStatus VerifyDigest(std::string digest, const std::string& partial, const ArtifactView& info) {
  if (digest.empty()) {
    auto rehash = artifacts::HashFile(partial);
    if (!rehash.ok()) return TransferStatus::Error(Kind::kLocal, rehash.message());
    digest = rehash.value();
  }
  if (digest == info.sha256) return {};
  return TransferStatus::Error(Kind::kRefused, "the bytes received for " + info.space + "/" + info.name +
                                                   " have sha256 " + digest + ", not the " + info.sha256 +
                                                   " the broker announced; try again");
}

}  // namespace transfer_io

// One reply: the decoded header frames, and the first blob frame as received (not copied).
struct ArtifactTransfer::Reply {
  Message msg;
  std::optional<int64_t> rid;
  zmq::message_t blob;
};

}  // namespace titan::cli
