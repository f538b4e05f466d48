// JOB_SUBMIT construction for `titan run`.
#include "cli/submit.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <random>

#include "cli/requests.h"

namespace titan::cli {
namespace {

bool IsPlainWord(std::string_view w) {
  if (w.empty()) return false;
  for (const char c : w) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_-./=:,+@%").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string NewSubmissionToken() {
  std::random_device random;
  char hex[33];
  for (int i = 0; i < 4; ++i) std::snprintf(hex + 8 * i, 9, "%08x", static_cast<uint32_t>(random()));
  return hex;
}

std::string DefaultJobId(std::string_view path, uint32_t random) {
  std::string stem = std::filesystem::path(path).stem().string();
  if (stem.empty()) stem = "job";
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", random);
  return stem + "-" + hex;
}

std::string ShellJoin(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    if (IsPlainWord(w)) {
      out += w;
      continue;
    }
    out += '\'';
    for (const char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::string CheckEnv(const std::vector<std::string>& env) {
  for (const std::string& e : env) {
    const size_t eq = e.find('=');
    if (eq == std::string::npos) return "--env '" + e + "' has no '=': write NAME=value";
    if (eq == 0) return "--env '" + e + "' has no NAME before '='";
  }
  return "";
}

std::string ResolveSecretEnv(std::vector<std::string>* entries,
                             const std::function<const char*(const char*)>& lookup) {
  for (std::string& e : *entries) {
    const size_t eq = e.find('=');
    if (eq == 0 || e.empty()) return "a --secret-env entry has no NAME before '='; write NAME=value or NAME";
    if (eq != std::string::npos) continue;
    const char* value = lookup(e.c_str());
    if (value == nullptr) {
      return "--secret-env " + e + ": " + e +
             " is not set in this environment; export it first, or write NAME=value";
    }
    e += "=" + std::string(value);
  }
  return "";
}

std::string ApplyDeployWords(const std::vector<std::string>& words, bool port_given, bool requirement_given,
                             RunArgs* args) {
  size_t i = 0;
  auto is_number = [](const std::string& w) {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(c) != 0; });
  };
  if (i < words.size() && is_number(words[i])) {
    if (port_given) return "'" + words[i] + "' looks like a PORT, but --port was given; give the port once";
    if (words[i].size() > 5 || std::stoi(words[i]) < 1 || std::stoi(words[i]) > 65535)
      return "PORT '" + words[i] + "' is not within 1..65535";
    args->port = std::stoi(words[i++]);
  }
  if (i < words.size() && !requirement_given) args->requirement = words[i++];
  if (i < words.size()) {
    return "unexpected '" + words[i] +
           "' after FILE [PORT] [REQUIREMENT]; put the script's arguments after `--`, e.g. "
           "titan deploy server.py 8080 -- --verbose";
  }
  return "";
}

wire::Message BuildSubmit(const RunArgs& args, const std::string& job_id,
                          std::optional<std::string> content) {
  const bool is_command = !args.command.empty();
  const std::string name = is_command ? ""
                           : content  ? std::filesystem::path(args.file).filename().string()
                                      : args.file;
  auto given = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); };
  wire::JobSpec spec{.id = job_id, .file = name};
  if (is_command) {
    spec.command = args.command;
    spec.argv = args.args;
  } else if (!args.args.empty()) {
    spec.args = ShellJoin(args.args);
  }
  spec.work_dir = given(args.work_dir);
  spec.runtime = given(args.runtime);
  if (args.cold_start) spec.cold_start = true;
  if (!args.volumes.empty()) spec.volumes = args.volumes;
  if (!args.uploads.empty()) spec.uploads = args.uploads;
  spec.job_type = given(args.job_type);
  if (args.port > 0) spec.port = args.port;
  spec.priority = args.priority;
  spec.delay_ms = args.delay_ms;
  spec.requirement = given(args.requirement);
  if (args.affinity) spec.affinity = true;
  spec.retries = args.retries;
  spec.timeout_ms = args.timeout_ms;
  if (!args.env.empty()) spec.env = args.env;
  if (!args.secret_env.empty()) spec.secret_env = args.secret_env;
  if (args.archive) spec.archive = true;
  spec.health_cmd = given(args.health_cmd);
  spec.max_restarts = args.max_restarts;
  spec.on_worker_lost = given(args.on_worker_lost);
  ApplyLimitArgs(args.limits, &spec);
  ApplyRequests(args, &spec);
  wire::JobSubmitMsg submit{.jobs = {std::move(spec)}, .token = NewSubmissionToken()};
  if (content && !is_command)
    submit.files.push_back(wire::FileBlob{.name = name, .content = std::move(*content)});
  return std::move(submit).ToMessage();
}

}  // namespace titan::cli
