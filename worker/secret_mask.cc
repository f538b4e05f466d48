// MaskSecrets (secret_mask.h).
#include "worker/secret_mask.h"

namespace titan::exec {

std::vector<std::string> SecretValues(const std::vector<std::string>& entries) {
  std::vector<std::string> values;
  for (const std::string& e : entries) {
    const size_t eq = e.find('=');
    if (eq != std::string::npos && eq + 1 < e.size()) values.push_back(e.substr(eq + 1));
  }
  return values;
}

std::string MaskSecrets(std::string_view text, const std::vector<std::string>& secrets) {
  // next[i]: where secrets[i] next occurs at or after `pos` (npos: nowhere), found again only once
  // `pos` passed it, so the scan costs one find per occurrence and secret.
  std::vector<size_t> next(secrets.size());
  for (size_t i = 0; i < secrets.size(); ++i)
    next[i] = secrets[i].empty() ? std::string_view::npos : text.find(secrets[i]);
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t best = std::string_view::npos, best_len = 0;
    for (size_t i = 0; i < secrets.size(); ++i) {
      if (next[i] != std::string_view::npos && next[i] < pos) next[i] = text.find(secrets[i], pos);
      if (next[i] < best ||
          (next[i] == best && next[i] != std::string_view::npos && secrets[i].size() > best_len)) {
        best = next[i];
        best_len = secrets[i].size();
      }
    }
    if (best == std::string_view::npos) break;
    out.append(text.substr(pos, best - pos)).append(kSecretMask);
    pos = best + best_len;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace titan::exec
