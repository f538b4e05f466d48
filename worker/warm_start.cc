// Warm-or-cold decisions for .py jobs, and the key and environment of the fork server a job needs.
#include "worker/warm_start.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <string_view>

namespace titan::exec {
namespace {

std::string_view KeyOf(std::string_view kv) { return kv.substr(0, kv.find('=')); }

bool EndsWithPy(std::string_view path) {
  if (path.size() < 3) return false;
  std::string ext(path.substr(path.size() - 3));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".py";
}

// `env` folded (the last value of a key wins), by key.
std::map<std::string, std::string> Folded(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const std::string& kv : env) out[std::string(KeyOf(kv))] = kv;
  return out;
}

}  // namespace

WarmChoice ChooseStart(const std::vector<std::string>& argv, const std::string& python, bool job_cold,
                       bool worker_cold) {
  if (argv.size() < 2 || argv[0] != python || !EndsWithPy(argv[1]))
    return {false, "not a .py script run by the worker's Python"};
  if (job_cold) return {false, "the job asked for a cold start (cold_start)"};
  if (worker_cold) return {false, "the worker runs Python cold (--cold-python)"};
  return {true, ""};
}

bool IsStartupVariable(const std::string& key_value) {
  const std::string_view key = KeyOf(key_value);
  return key.starts_with("PYTHON") || key == "LANG" || key.starts_with("LC_");
}

std::vector<std::string> ServerEnvironment(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const auto& [key, kv] : Folded(env)) {
    if (IsStartupVariable(kv) || key == "PATH" || key == "HOME") out.push_back(kv);
  }
  return out;
}

std::string ServerKey(const std::string& python, const std::vector<std::string>& env) {
  std::string key = python;
  for (const auto& [name, kv] : Folded(env)) {
    if (IsStartupVariable(kv)) key += '\0' + kv;
  }
  return key;
}

}  // namespace titan::exec
