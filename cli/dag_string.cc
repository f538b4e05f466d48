// ParseDagString: split into jobs, each job into fields read outside-in, inline payloads decoded.
#include "cli/dag_string.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "cli/submit.h"

namespace titan::cli {
namespace {

constexpr std::string_view kInline = "RUN_PAYLOAD";
constexpr std::string_view kGrammar =
    "ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS] with an optional |AFFINITY";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

std::optional<int64_t> Integer(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool IsBracketed(std::string_view s) { return s.size() >= 2 && s.front() == '[' && s.back() == ']'; }

bool IsFlag(std::string_view s) {
  std::string upper(s);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  return upper == "AFFINITY" || upper == "STICKY";
}

// Standard base64 (OpenSSL's decoder: padding required, whitespace ignored); nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view b64) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  EVP_DecodeInit(ctx);
  int n = 0, tail = 0;
  const bool ok = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                                   reinterpret_cast<const unsigned char*>(b64.data()),
                                   static_cast<int>(b64.size())) >= 0 &&
                  EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data()) + n, &tail) >= 0;
  EVP_ENCODE_CTX_free(ctx);
  if (!ok) return std::nullopt;
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

// One job's fields, or the reason it has none; `where` names the job in messages.
class JobReader {
 public:
  JobReader(std::string where, Pipeline* out) : where_(std::move(where)), out_(out) {}

  // Reads `text` into one JobSpec (and its inline file) appended to *out_.
  bool Read(std::string_view text, std::string* error);

 private:
  bool Fail(std::string what, std::string* error) {
    *error = where_ + ": " + what;
    return false;
  }
  bool ReadParents(std::string_view field, std::vector<std::string>* parents, std::string* error);
  bool ReadPayload(std::string_view payload, wire::JobSpec* spec, std::string* error);

  std::string where_;
  Pipeline* out_;
};

bool JobReader::Read(std::string_view text, std::string* error) {
  std::vector<std::string_view> f = Split(text, '|');
  const bool affinity = f.size() > 6 && IsFlag(Trim(f.back()));
  if (affinity) f.pop_back();
  if (f.size() < 6) {
    return Fail("has " + std::to_string(f.size()) + " fields; write " + std::string(kGrammar), error);
  }
  if (f.size() > 6 && IsBracketed(Trim(f[f.size() - 2])) && !IsBracketed(Trim(f.back())))
    return Fail(
        "'" + std::string(Trim(f.back())) + "' after [PARENTS] is not a flag; write AFFINITY or nothing",
        error);
  // Outside-in: the fields after PAYLOAD from the right, then ID and SKILL, then PAYLOAD between them.
  std::vector<std::string> parents;
  if (!ReadParents(Trim(f.back()), &parents, error)) return false;
  const std::string_view priority = Trim(f[f.size() - 3]), delay = Trim(f[f.size() - 2]);
  const std::optional<int64_t> p = Integer(priority), d = Integer(delay);
  if (!d || *d < 0) {
    return Fail("DELAY_MS '" + std::string(delay) + "' is not a whole number of milliseconds (0 or more)",
                error);
  }
  if (!p) return Fail("PRIORITY '" + std::string(priority) + "' is not an integer", error);
  const std::string_view id = Trim(f[0]), skill = Trim(f[1]);
  if (id.empty()) return Fail("ID is empty; give each job an id", error);
  if (skill.empty()) return Fail("SKILL is empty; write GENERAL or a capability such as GPU", error);
  wire::JobSpec spec{.id = std::string(id)};
  const char* payload_end = f[f.size() - 3].data() - 1;  // the '|' before PRIORITY
  if (!ReadPayload(Trim(std::string_view(f[2].data(), payload_end - f[2].data())), &spec, error))
    return false;
  spec.requirement = std::string(skill);
  spec.priority = *p;
  spec.delay_ms = *d;
  if (!parents.empty()) spec.parents = std::move(parents);
  if (affinity) spec.affinity = true;
  out_->jobs.push_back(std::move(spec));
  return true;
}

bool JobReader::ReadParents(std::string_view field, std::vector<std::string>* parents, std::string* error) {
  if (!IsBracketed(field)) {
    return Fail("PARENTS '" + std::string(field) + "' must be in brackets: [] or [a,b] (after DELAY_MS)",
                error);
  }
  const std::string_view inside = Trim(field.substr(1, field.size() - 2));
  if (inside.empty()) return true;
  for (std::string_view p : Split(inside, ',')) {
    p = Trim(p);
    if (p.empty()) return Fail("PARENTS '" + std::string(field) + "' has an empty name", error);
    parents->emplace_back(p);
  }
  return true;
}

bool JobReader::ReadPayload(std::string_view payload, wire::JobSpec* spec, std::string* error) {
  if (payload.empty()) return Fail("PAYLOAD is empty; give a script name or RUN_PAYLOAD|FILE|BASE64", error);
  if (payload.find('|') == std::string_view::npos && payload != kInline) {
    spec->file = std::string(payload);  // deployed in perm_files
    return true;
  }
  const std::vector<std::string_view> p = Split(payload, '|');
  if (Trim(p[0]) != kInline || p.size() != 3 || Trim(p[1]).empty()) {
    return Fail(
        "PAYLOAD '" + std::string(payload) + "' is neither a script name nor RUN_PAYLOAD|FILE|BASE64_CONTENT",
        error);
  }
  const std::string file(Trim(p[1]));
  std::optional<std::string> content = DecodeBase64(Trim(p[2]));
  if (!content) return Fail("the content of '" + file + "' is not valid base64", error);
  for (const auto& [name, bytes] : out_->files) {
    if (name == file && bytes != *content) {
      return Fail("file '" + file + "' is also sent by an earlier job with other content; rename one", error);
    }
  }
  if (std::none_of(out_->files.begin(), out_->files.end(), [&](const auto& f) { return f.first == file; }))
    out_->files.emplace_back(file, std::move(*content));
  spec->file = file;
  return true;
}

}  // namespace

bool IsDagString(std::string_view arg) { return arg.find('|') != std::string_view::npos; }

bool ParseDagString(std::string_view text, Pipeline* out, std::string* error) {
  *out = Pipeline{};
  size_t position = 0, inline_bytes = 0;
  for (std::string_view job : Split(text, ';')) {
    job = Trim(job);
    if (job.empty()) continue;
    ++position;
    const std::string_view id = Trim(job.substr(0, job.find('|')));
    std::string where = "job " + std::to_string(position);
    if (!id.empty() && job.find('|') != std::string_view::npos) where += " ('" + std::string(id) + "')";
    if (!JobReader(std::move(where), out).Read(job, error)) return false;
  }
  if (out->jobs.empty()) {
    *error = "the DAG string has no jobs; write " + std::string(kGrammar) + ", jobs separated by ';'";
    return false;
  }
  for (const auto& [name, bytes] : out->files) inline_bytes += bytes.size();
  if (inline_bytes > kMaxJobFileBytes) {
    *error = "the inline payloads are " + std::to_string(inline_bytes >> 20) + " MiB together; at most " +
             std::to_string(kMaxJobFileBytes >> 20) +
             " MiB travel with a DAG: deploy larger scripts with `titan deploy-script` and name them";
    return false;
  }
  return true;
}

}  // namespace titan::cli
