// Where tests find the repository's shared files (schemas/protocol.yaml, golden vectors).
#pragma once

#include <string>

namespace titan::testing {
inline std::string SchemaPath(const std::string& rel) {
  return std::string(TITAN_SOURCE_DIR) + "/schemas/" + rel;
}
}  // namespace titan::testing
