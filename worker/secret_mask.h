// A job's secret values hidden in its output: every exact occurrence becomes "****" before the bytes
// reach the job's log file, the broker's log store or a log subscriber (docs/security.md, Secrets).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace titan::exec {

inline constexpr std::string_view kSecretMask = "****";

// The values of "NAME=value" entries, empty ones left out.
std::vector<std::string> SecretValues(const std::vector<std::string>& entries);

// `text` with each occurrence of a secret replaced by kSecretMask, scanning left to right; where two
// secrets start at the same byte, the longer one is masked.
std::string MaskSecrets(std::string_view text, const std::vector<std::string>& secrets);

}  // namespace titan::exec
