// Pipeline parsing: yaml-cpp gives the nodes and their lines; scalars are typed here the way PyYAML's
// safe loader types them (YAML 1.1: yes/no are booleans, 0x1f is an integer), so this parser and the
// SDK's accept and refuse the same files. Inside, a Failure is thrown and caught in ParsePipeline.
#include "pipeline.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "yaml_fields.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;
using wire::Datum;
using wire::Text;

// What the files of one submission may add up to: limits.max_body_bytes less room for the job specs.
constexpr size_t kMaxFilesBytes = 4194304 - 256 * 1024;

const std::vector<std::string_view> kTitanTopKeys = {"name", "agent_run_id", "jobs"};
const std::vector<std::string_view> kJobletTopKeys = {"version", "name", "jobs"};
const std::vector<std::string_view> kTitanJobKeys = {
    "id",       "script",  "type",        "args",         "dependencies",
    "priority", "delay",   "requirement", "affinity",     "port",
    "retries",  "timeout", "env",         "hitl_message", "max_wait_seconds"};
const std::vector<std::string_view> kJobletJobKeys = {"name",       "command",     "args",        "runtime",
                                                      "depends_on", "environment", "requirement", "priority",
                                                      "retries",    "timeout"};
const std::set<std::string> kInterpreters = {"python", "python3", "bash", "sh"};

Datum TextList(const std::vector<std::string>& items) {
  wire::List list;
  for (const std::string& s : items) list.emplace_back(Text{s});
  return Datum(std::move(list));
}

class Parser {
 public:
  explicit Parser(const std::string& file) : folder_(fs::absolute(fs::path(file)).parent_path()) {}

  Pipeline Parse(const YAML::Node& root, int root_line) {
    if (!root.IsMap()) throw Failure{root_line, "a pipeline is a mapping with 'name' and 'jobs'"};
    const YamlFields top(root, "the pipeline");
    top.Require("jobs", "a list of jobs");
    const YAML::Node jobs = top.Value("jobs");
    if (!jobs.IsSequence() || jobs.size() == 0) {
      throw Failure{top.Line("jobs"), "'jobs' must be a list of at least one job"};
    }
    const bool joblet = IsJoblet(jobs);
    top.CheckKeys(joblet ? kJobletTopKeys : kTitanTopKeys);
    top.Require("name", "the DAG's name");
    Pipeline out;
    out.dag = top.Text("name");
    if (top.Has("agent_run_id") && !joblet) out.agent_run_id = top.Text("agent_run_id");
    int index = 1;
    for (const YAML::Node& job : jobs) {
      out.jobs.push_back(joblet ? JobletJob(job, index) : TitanJob(job, index));
      ++index;
    }
    CheckFilesFit();
    out.files = std::move(files_);
    return out;
  }

 private:
  // Joblet when a job has `name` (and none has `id`); mixing the two is an error at the later one.
  bool IsJoblet(const YAML::Node& jobs) const {
    int by_id = 0, by_name = 0, index = 1;
    for (const YAML::Node& job : jobs) {
      if (!job.IsMap()) {
        throw Failure{LineOf(job),
                      "job #" + std::to_string(index) + " must be a mapping (id: ..., script: ...)"};
      }
      const YamlFields f(job, "");
      if (by_id == 0 && f.Has("id")) by_id = LineOf(job);
      if (by_name == 0 && f.Has("name")) by_name = LineOf(job);
      ++index;
    }
    if (by_id > 0 && by_name > 0) {
      throw Failure{
          std::max(by_id, by_name),
          "jobs mix 'id' (Titan format) and 'name' (Joblet format); use one format for the whole file"};
    }
    return by_name > 0;
  }

  // "job 'EXTRACT'" when the job's id is a string, else "job #2".
  static std::string JobName(const YAML::Node& job, int index, std::string_view id_key) {
    const YamlFields probe(job, "");
    if (probe.Has(id_key) && KindOf(probe.Value(id_key)) == ScalarKind::kString) {
      return "job '" + probe.Value(id_key).Scalar() + "'";
    }
    return "job #" + std::to_string(index);
  }

  wire::Map TitanJob(const YAML::Node& node, int index) {
    const YamlFields job(node, JobName(node, index, "id"));
    job.CheckKeys(kTitanJobKeys);
    job.Require("id", "a unique job id");
    job.Require("script", "the file to run, relative to this YAML file's folder");
    wire::Map spec{{"id", Datum(Text{job.Text("id")})}};
    spec.emplace_back("file", Datum(Text{AddFile(job.Text("script"), job.Line("script"))}));
    if (job.Has("type")) {
      const std::string type = job.Text("type");
      if (type != "RUN_PAYLOAD" && type != "SERVICE") {
        throw Failure{job.Line("type"), "'type' must be RUN_PAYLOAD or SERVICE in " + job.what()};
      }
      spec.emplace_back("job_type", Datum(Text{type}));
    }
    if (job.Has("args")) spec.emplace_back("args", Datum(Text{job.Text("args")}));
    if (job.Has("port")) spec.emplace_back("port", Datum(job.Integer("port")));
    if (job.Has("delay")) spec.emplace_back("delay_ms", Datum(job.Milliseconds("delay")));
    if (job.Has("affinity")) spec.emplace_back("affinity", Datum(job.Flag("affinity")));
    if (job.Has("dependencies")) spec.emplace_back("parents", TextList(job.TextList("dependencies")));
    if (job.Has("env")) spec.emplace_back("env", TextList(job.TextMap("env")));
    if (job.Has("hitl_message")) spec.emplace_back("hitl_message", Datum(Text{job.Text("hitl_message")}));
    if (job.Has("max_wait_seconds")) spec.emplace_back("max_wait_s", Datum(job.Integer("max_wait_seconds")));
    SharedKeys(job, &spec);
    return spec;
  }

  wire::Map JobletJob(const YAML::Node& node, int index) {
    const YamlFields job(node, JobName(node, index, "name"));
    job.CheckKeys(kJobletJobKeys);
    job.Require("name", "a unique job name");
    job.Require("command", "the program to run");
    const std::string name = job.Text("name"), command = job.Text("command");
    const std::vector<std::string> args = job.Has("args") ? job.TextList("args") : std::vector<std::string>{};
    if (job.Has("runtime"))
      (void)job.Text("runtime");  // accepted and ignored: workers use their own interpreters
    wire::Map spec{{"id", Datum(Text{name})}};
    std::error_code ec;
    if (kInterpreters.count(command) && !args.empty() && fs::is_regular_file(folder_ / args[0], ec)) {
      spec.emplace_back("file", Datum(Text{AddFile(args[0], job.Line("args"))}));
      if (args.size() > 1) {
        std::string joined;
        for (size_t i = 1; i < args.size(); ++i) joined += (i > 1 ? " " : "") + PipelineShellQuote(args[i]);
        spec.emplace_back("args", Datum(Text{joined}));
      }
    } else {
      if (name.find('/') != std::string::npos || name == "." || name == "..") {
        throw Failure{job.Line("name"), "job name '" + name + "' cannot name its generated script " + name +
                                            ".sh; drop the '/'"};
      }
      std::string script = "#!/bin/sh\nexec " + PipelineShellQuote(command);
      for (const std::string& a : args) script += " " + PipelineShellQuote(a);
      script += "\n";
      spec.emplace_back(
          "file",
          Datum(Text{Put(name + ".sh", std::move(script), "generated for job '" + name + "'", job.line())}));
    }
    if (job.Has("depends_on")) spec.emplace_back("parents", TextList(job.TextList("depends_on")));
    if (job.Has("environment")) spec.emplace_back("env", TextList(job.TextMap("environment")));
    SharedKeys(job, &spec);
    return spec;
  }

  // The keys both formats have.
  static void SharedKeys(const YamlFields& job, wire::Map* spec) {
    if (job.Has("priority")) spec->emplace_back("priority", Datum(job.Integer("priority")));
    if (job.Has("requirement")) spec->emplace_back("requirement", Datum(Text{job.Text("requirement")}));
    if (job.Has("retries")) spec->emplace_back("retries", Datum(job.Integer("retries")));
    if (job.Has("timeout")) spec->emplace_back("timeout_ms", Datum(job.Milliseconds("timeout")));
  }

  // Reads the script (relative to the YAML file's folder, or absolute); returns its base name.
  std::string AddFile(const std::string& script, int line) {
    const fs::path path = (folder_ / script).lexically_normal();
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        throw Failure{line, "script '" + script + "' not found (looked for " + path.string() +
                                "); paths are relative to the YAML file's folder"};
      }
      throw Failure{line, "cannot read script '" + script + "': " + std::strerror(errno)};
    }
    if (S_ISDIR(st.st_mode))
      throw Failure{line, "script '" + script + "' is a directory; name the file to run"};
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    if (!in) throw Failure{line, "cannot read script '" + script + "': " + std::strerror(errno)};
    return Put(path.filename().string(), content.str(), path.string(), line);
  }

  std::string Put(const std::string& name, std::string content, const std::string& origin, int line) {
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

  void CheckFilesFit() const {
    size_t total = 0;
    const std::pair<std::string, std::string>* biggest = nullptr;
    for (const auto& f : files_) {
      total += f.second.size();
      if (biggest == nullptr || f.second.size() > biggest->second.size()) biggest = &f;
    }
    if (total <= kMaxFilesBytes) return;
    throw Failure{0, "the job files add up to " + std::to_string(total) + " bytes (largest: " +
                         biggest->first + ", " + std::to_string(biggest->second.size()) +
                         " bytes); one submission carries at most " + std::to_string(kMaxFilesBytes) +
                         ". Submit big jobs separately, or ship data through TitanStore or an artifact"};
  }

  fs::path folder_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::map<std::string, std::string> origins_;  // base name -> where its bytes came from
};

// The file's text, or a Failure naming why it cannot be read.
std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure{0, std::string("cannot read the pipeline: ") + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw Failure{0, std::string("cannot read the pipeline: ") + std::strerror(errno)};
  if (!wire::IsValidUtf8(text.str())) throw Failure{0, "cannot read the pipeline: it is not UTF-8 text"};
  return text.str();
}

}  // namespace

std::string PipelineError::Message() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + what : file + ": " + what;
}

bool ParsePipeline(const std::string& path, Pipeline* out, PipelineError* error) {
  try {
    const YAML::Node root = LoadSingleDocument(ReadText(path));
    *out = Parser(path).Parse(root, LineOf(root));
    return true;
  } catch (const Failure& f) {
    *error = PipelineError{path, f.line, f.what};
  } catch (const YAML::Exception& e) {  // yaml-cpp throws on conversions too; none is expected here
    *error = PipelineError{path, e.mark.is_null() ? 1 : e.mark.line + 1, "invalid YAML: " + e.msg};
  } catch (const std::exception& e) {  // filesystem errors, allocation
    *error = PipelineError{path, 0, e.what()};
  }
  return false;
}

std::string PipelineShellQuote(std::string_view word) {
  static const std::regex kSafe("[A-Za-z0-9\\-_./=:,+@%]+");
  if (std::regex_match(word.begin(), word.end(), kSafe)) return std::string(word);
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
  return out + "'";
}

wire::Message BuildPipelineSubmit(const Pipeline& pipeline) {
  wire::List jobs, files;
  for (const wire::Map& spec : pipeline.jobs) jobs.emplace_back(spec);
  for (const auto& [name, content] : pipeline.files) {
    files.emplace_back(wire::Map{{"name", Datum(Text{name})}, {"content", Datum(wire::Bytes{content})}});
  }
  wire::Message m = wire::MakeMessage(wire::MsgType::kJobSubmit);
  m.Set("jobs", Datum(std::move(jobs)))
      .Set("files", Datum(std::move(files)))
      .Set("dag", Datum(Text{pipeline.dag}));
  if (pipeline.agent_run_id) m.Set("agent_run_id", Datum(Text{*pipeline.agent_run_id}));
  return m;
}

wire::Message BuildScheduleAdd(const std::string& name, const std::string& cron, const Pipeline& pipeline) {
  const wire::Message submit = BuildPipelineSubmit(pipeline);
  wire::Message m = wire::MakeMessage(wire::MsgType::kScheduleAdd);
  m.Set("name", Datum(Text{name})).Set("cron", Datum(Text{cron}));
  return m.Set("jobs", *submit.Find("jobs")).Set("files", *submit.Find("files"));
}

}  // namespace titan::cli
