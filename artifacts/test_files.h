// Helpers for the artifacts tests: writing and reading whole small files, deterministic bytes.
#pragma once

#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace titan::artifacts::testing {

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `size` bytes of every value, the same for the same seed.
inline std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

}  // namespace titan::artifacts::testing
