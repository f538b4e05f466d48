// Where tests find the repository's shared files (schemas/protocol.yaml, golden vectors). Targets that
// use it link titan_source_dir (every titan_add_test does).
#pragma once

#include <string>

namespace titan::testing {
// The checkout's root directory, absolute.
extern const char* const kSourceDir;

inline std::string SourcePath(const std::string& rel) { return std::string(kSourceDir) + "/" + rel; }
inline std::string SchemaPath(const std::string& rel) { return SourcePath("schemas/" + rel); }
}  // namespace titan::testing
