// Test helpers for the pipeline parser's tests: a JobSpec rendered in field order, and a fixture that
// writes a pipeline file (and its scripts) to a temp dir and parses it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "base/test_dir.h"
#include "cli/pipeline.h"

namespace titan::cli {

// A JobSpec as "{field: value, ...}" in field-name order: the comparison ignores field order.
inline std::string Canonical(const wire::Map& spec) {
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : spec) sorted[k] = wire::Render(v);
  std::string out = "{";
  for (const auto& [k, v] : sorted) out += (out.size() > 1 ? ", " : "") + k + ": " + v;
  return out + "}";
}
inline std::string Canonical(const wire::JobSpec& spec) {
  return Canonical(std::get<wire::Map>(spec.ToDatum().v));
}

// A pipeline file in a temp dir, with scripts next to it.
class PipelineFile : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(dir_.File(name)).parent_path());
    std::ofstream(dir_.File(name), std::ios::binary) << content;
  }
  // Parses `yaml` written as p.yaml; the error's "<line>: <what>" or "ok".
  std::string Parse(const std::string& yaml) {
    Write("p.yaml", yaml);
    error_ = {};
    if (ParsePipeline(dir_.File("p.yaml"), &p_, &error_)) return "ok";
    return std::to_string(error_.line) + ": " + error_.what;
  }
  std::string Job(size_t i) const { return Canonical(p_.jobs.at(i)); }

  testing::TempDir dir_;
  Pipeline p_;
  PipelineError error_;
};

}  // namespace titan::cli
