// JOB_SUBMIT construction for `titan run`.
#include "cli/submit.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

namespace titan::cli {
namespace {

using wire::Datum;
using wire::Text;

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
  const std::string name = content ? std::filesystem::path(args.file).filename().string() : args.file;
  wire::Map spec{{"id", Datum(Text{job_id})}, {"file", Datum(Text{name})}};
  if (args.archive) spec.emplace_back("archive", Datum(true));
  if (!args.job_type.empty()) spec.emplace_back("job_type", Datum(Text{args.job_type}));
  if (args.port > 0) spec.emplace_back("port", Datum(args.port));
  if (!args.health_cmd.empty()) spec.emplace_back("health_cmd", Datum(Text{args.health_cmd}));
  if (args.max_restarts) spec.emplace_back("max_restarts", Datum(*args.max_restarts));
  if (!args.args.empty()) spec.emplace_back("args", Datum(Text{ShellJoin(args.args)}));
  if (args.priority) spec.emplace_back("priority", Datum(*args.priority));
  if (args.delay_ms) spec.emplace_back("delay_ms", Datum(*args.delay_ms));
  if (!args.requirement.empty()) spec.emplace_back("requirement", Datum(Text{args.requirement}));
  if (args.affinity) spec.emplace_back("affinity", Datum(true));
  if (args.retries) spec.emplace_back("retries", Datum(*args.retries));
  if (args.timeout_ms) spec.emplace_back("timeout_ms", Datum(*args.timeout_ms));
  if (!args.env.empty()) {
    wire::List env;
    for (const std::string& e : args.env) env.emplace_back(Text{e});
    spec.emplace_back("env", Datum(std::move(env)));
  }
  wire::List files;
  if (content) {
    files.push_back(
        Datum(wire::Map{{"name", Datum(Text{name})}, {"content", Datum(wire::Bytes{std::move(*content)})}}));
  }
  return wire::MakeMessage(wire::MsgType::kJobSubmit)
      .Set("jobs", Datum(wire::List{Datum(std::move(spec))}))
      .Set("files", Datum(std::move(files)));
}

}  // namespace titan::cli
