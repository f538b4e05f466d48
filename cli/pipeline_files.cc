// PipelineFiles: reading job scripts, and checking `file` paths of project jobs, for pipeline.cc.
#include "cli/pipeline_files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/yaml_fields.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;

// What the files of one submission may add up to: limits.max_body_bytes less room for the job specs.
constexpr size_t kMaxFilesBytes = 4194304 - 256 * 1024;

// stat() of a job's file: Failure naming `key` 'shown' when it is missing, unreadable or a folder.
void CheckIsFile(const fs::path& path, std::string_view key, const std::string& shown, int line) {
  const std::string what = std::string(key) + " '" + shown + "'";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      throw Failure{line, what + " not found (looked for " + path.string() +
                              "); paths are relative to the YAML file's folder"};
    }
    throw Failure{line, "cannot read " + what + ": " + std::strerror(errno)};
  }
  if (S_ISDIR(st.st_mode)) throw Failure{line, what + " is a directory; name the file to run"};
}

}  // namespace

std::string PipelineFiles::AddScript(const std::string& path, std::string_view key, int line) {
  const fs::path full = (folder_ / path).lexically_normal();
  CheckIsFile(full, key, path, line);
  std::ifstream in(full, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in)
    throw Failure{line, "cannot read " + std::string(key) + " '" + path + "': " + std::strerror(errno)};
  return Put(full.filename().string(), content.str(), full.string(), line);
}

std::string PipelineFiles::Put(const std::string& name, std::string content, const std::string& origin,
                               int line) {
  for (const auto& [existing, bytes] : files_) {
    if (existing != name) continue;
    if (bytes != content) {
      throw Failure{line, "two different files are named '" + name + "' (" + origins_.at(name) + " and " +
                              origin + "); the worker keeps only the base name, so rename one"};
    }
    return name;
  }
  files_.emplace_back(name, std::move(content));
  origins_[name] = origin;
  return name;
}

std::string PipelineFiles::ProjectEntry(const std::string& file, int line) const {
  const std::string quoted = "'file' '" + file + "'";
  const std::string fix =
      "; with 'project: true' (the default) the YAML file's folder is zipped as the project, so give a "
      "path inside it, or send the file with 'script' instead";
  if (!file.empty() && file.front() == '/') throw Failure{line, quoted + " is an absolute path" + fix};
  std::vector<std::string> parts;
  std::istringstream words(file);
  for (std::string part; std::getline(words, part, '/');) {
    if (part.empty() || part == ".") continue;
    if (part != "..") {
      parts.push_back(part);
    } else if (parts.empty()) {
      throw Failure{line, quoted + " leads outside the YAML file's folder" + fix};
    } else {
      parts.pop_back();
    }
  }
  if (parts.empty())
    throw Failure{line, quoted + " names the YAML file's folder itself; name the file to run"};
  std::string entry;
  for (const std::string& part : parts) entry += (entry.empty() ? "" : "/") + part;
  CheckIsFile(folder_ / entry, "file", file, line);
  return entry;
}

void PipelineFiles::CheckFit() const {
  size_t total = 0;
  const std::pair<std::string, std::string>* biggest = nullptr;
  for (const auto& f : files_) {
    total += f.second.size();
    if (biggest == nullptr || f.second.size() > biggest->second.size()) biggest = &f;
  }
  if (total <= kMaxFilesBytes) return;
  throw Failure{0, "the job files add up to " + std::to_string(total) + " bytes (largest: " + biggest->first +
                       ", " + std::to_string(biggest->second.size()) +
                       " bytes); one submission carries at most " + std::to_string(kMaxFilesBytes) +
                       ". Submit big jobs separately, or ship data through TitanStore or an artifact"};
}

}  // namespace titan::cli
