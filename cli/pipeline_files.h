// The files a pipeline's jobs run (private to cli/, used by pipeline.cc): scripts read from the YAML
// file's folder and sent once by base name, generated scripts, and the paths of `file` jobs inside the
// project (the YAML file's folder, zipped). Every method throws Failure (yaml_fields.h) with the
// YAML line it is given; the SDK's pipeline_files.py follows the same rules with the same messages.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace titan::cli {

class PipelineFiles {
 public:
  // `folder`: the YAML file's folder, absolute and normal.
  explicit PipelineFiles(std::filesystem::path folder) : folder_(std::move(folder)) {}

  const std::filesystem::path& folder() const { return folder_; }

  // Reads the file at `path` (relative to the folder, or absolute) to send it with the DAG; `key`
  // ("script", "file") names it in messages. Returns its base name.
  std::string AddScript(const std::string& path, std::string_view key, int line);

  // Adds `content` under `name` unless the same bytes are there already; Failure when other bytes
  // are (`origin` says where these came from). Returns `name`.
  std::string Put(const std::string& name, std::string content, const std::string& origin, int line);

  // `file` as the path of an existing file inside the folder, normalized ("./a/../b.py" -> "b.py"):
  // Failure when it is absolute, leads outside with "..", names the folder, or names no file.
  std::string ProjectEntry(const std::string& file, int line) const;

  // Failure (line 0) when the files do not fit in one submission.
  void CheckFit() const;

  // The files, each once, in first-use order: base name -> bytes.
  std::vector<std::pair<std::string, std::string>> Take() { return std::move(files_); }

 private:
  std::filesystem::path folder_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::map<std::string, std::string> origins_;  // base name -> where its bytes came from
};

}  // namespace titan::cli
