// JobKeyWriter / JobKeyReader: the append-only jobs log (job_key_log.h).
#include "security/job_key_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "security/credential.h"
#include "security/curve_keys.h"

namespace titan::security {
namespace {

constexpr size_t kCompactAbove = 64 * 1024;

// One line of the log applied to *jobs; false when it is not a well-formed change.
bool Apply(std::string_view line, Principals* jobs) {
  if (line.rfind("# ", 0) == 0) return true;  // the header
  if (line.size() < 3 || line[1] != ' ') return false;
  const std::string_view rest = line.substr(2);
  if (line[0] == '-') {
    if (!IsPrincipalName(std::string(rest))) return false;
    jobs->Remove(std::string(rest));
    return true;
  }
  const size_t space = rest.find(' ');
  if (line[0] != '+' || space == std::string_view::npos) return false;
  Principal p{.name = std::string(rest.substr(0, space)),
              .public_key = std::string(rest.substr(space + 1)),
              .role = Role::kSubmitter};
  if (!IsKey(p.public_key)) return false;
  jobs->Remove(p.name);  // a name's latest key wins
  return jobs->Add(std::move(p)).ok();
}

}  // namespace

Status JobKeyWriter::Flush(const Principals& live) {
  if (!fd_.valid() || (size_ > kCompactAbove && size_ > 4 * live.all().size() * 64)) return Compact(live);
  if (pending_.empty()) return Status::Ok();
  Status s = WriteAll(fd_.get(), pending_, "'" + path_ + "'");
  size_ += pending_.size();
  pending_.clear();
  if (!s.ok()) fd_.Reset(-1);  // the next Flush writes a fresh file
  return s;
}

Status JobKeyWriter::Compact(const Principals& live) {
  // A header unique to this file, so a reader can tell it from an earlier one with a reused inode.
  unsigned char nonce[8];
  randombytes_buf(nonce, sizeof nonce);
  char hex[2 * sizeof nonce + 1];
  sodium_bin2hex(hex, sizeof hex, nonce, sizeof nonce);
  std::string text = std::string("# titan jobs log ") + hex + "\n";
  for (const Principal& p : live.all()) text += "+ " + p.name + " " + p.public_key + "\n";
  pending_.clear();
  fd_.Reset(-1);
  if (Status s = WriteSecretFile(path_, text, /*durable=*/false); !s.ok()) return s;
  fd_.Reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd_.valid()) return ErrnoStatus("cannot open '" + path_ + "' to append", errno);
  size_ = text.size();
  return Status::Ok();
}

Status JobKeyReader::Follow(Principals* jobs) {
  exec::UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno != ENOENT) return ErrnoStatus("cannot read '" + path_ + "'", errno);
    *jobs = Principals();
    inode_ = 0;
    offset_ = 0;
    partial_.clear();
    return Status::Ok();
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat '" + path_ + "'", errno);
  char head[64] = {};
  const bool same_head =
      offset_ == 0 || (::pread(fd.get(), head, header_.size(), 0) == static_cast<ssize_t>(header_.size()) &&
                       std::string_view(head, header_.size()) == header_);
  if (st.st_ino != inode_ || st.st_size < offset_ || !same_head) {  // a new file: read it whole
    *jobs = Principals();
    inode_ = st.st_ino;
    offset_ = 0;
    partial_.clear();
  }
  int bad = 0;
  char buf[64 * 1024];
  for (ssize_t n; (n = ::pread(fd.get(), buf, sizeof buf, offset_)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read '" + path_ + "'", errno);
    if (offset_ == 0) {
      const std::string_view first(buf, static_cast<size_t>(n));
      header_ = first.substr(0, std::min<size_t>(first.find('\n') + 1, sizeof head));
    }
    offset_ += n;
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
      bad += !Apply(std::string_view(partial_).substr(start, nl - start), jobs);
    partial_.erase(0, start);
  }
  if (bad > 0)
    return Status::Invalid("'" + path_ + "' has " + std::to_string(bad) + " malformed lines (skipped)");
  return Status::Ok();
}

}  // namespace titan::security
