// Pipeline parsing: yaml-cpp gives the nodes and their lines; scalars are typed here the way PyYAML's
// safe loader types them (YAML 1.1: yes/no are booleans, 0x1f is an integer), so this parser and the
// SDK's accept and refuse the same files. Inside, a Failure is thrown and caught in ParsePipeline.
#include "cli/pipeline.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cli/pipeline_files.h"
#include "cli/pipeline_limits.h"
#include "cli/requests.h"
#include "cli/submit.h"
#include "cli/yaml_fields.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string_view> kTitanTopKeys = {"name", "agent_run_id", "jobs", "version", "project"};
const std::vector<std::string_view> kJobletTopKeys = {"version", "name", "jobs"};
const std::vector<std::string_view> kTitanJobKeys = {"id",
                                                     "script",
                                                     "file",
                                                     "type",
                                                     "args",
                                                     "dependencies",
                                                     "depends_on",  // what runs, after what
                                                     "priority",
                                                     "delay",
                                                     "requirement",
                                                     "affinity",
                                                     "port",
                                                     "retries",
                                                     "timeout",
                                                     "env",
                                                     "secret_env",  // how
                                                     "hitl_message",
                                                     "max_wait_seconds",  // its gate
                                                     "on_worker_lost",    // if its worker is lost
                                                     "cpu",
                                                     "memory",
                                                     "gpus",  // what it reserves (cli/requests.h)
                                                     "runtime",
                                                     "work_dir",
                                                     "volumes",
                                                     "cold_start"};  // job control (docs/job-control.md)
const std::vector<std::string_view> kJobletJobKeys = {"name",
                                                      "command",
                                                      "args",
                                                      "runtime",
                                                      "depends_on",
                                                      "environment",
                                                      "requirement",
                                                      "priority",
                                                      "retries",
                                                      "timeout",
                                                      "secret_environment",
                                                      "on_worker_lost",
                                                      "cpu",
                                                      "memory",
                                                      "gpus",
                                                      "work_dir",
                                                      "volumes",
                                                      "cold_start"};
const std::set<std::string> kInterpreters = {"python", "python3", "bash", "sh"};
// Titan `type` values, upper-cased (any case is accepted): true for a service.
const std::map<std::string, bool> kJobTypes = {
    {"RUN_PAYLOAD", false}, {"TASK", false}, {"RUN", false}, {"SERVICE", true}};
constexpr size_t kMaxNameComponent = 255;  // artifacts/artifact_name.h kMaxComponentBytes

// `text` upper-cased when it is all ASCII; as it is otherwise (so that no other letter folds into one).
std::string AsciiUpper(std::string text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return text;
  }
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Which key names the job's file: false for `script`, true for `file` (the original SDK's spelling).
// Failure when both or neither is given, and when both spellings of the parents are.
bool UsesFile(const YamlFields& job) {
  const bool script = job.Has("script"), file = job.Has("file");
  if (script && file) {
    throw Failure{std::max(job.Line("script"), job.Line("file")),
                  job.what() +
                      " gives both 'script' and 'file'; give one ('script' sends the file with the "
                      "DAG, 'file' runs it from the project)"};
  }
  if (!script && !file) {
    throw Failure{job.line(), job.what() +
                                  " needs 'script' or 'file' (the file to run, relative to this YAML "
                                  "file's folder)"};
  }
  if (job.Has("dependencies") && job.Has("depends_on")) {
    throw Failure{std::max(job.Line("dependencies"), job.Line("depends_on")),
                  job.what() +
                      " gives both 'dependencies' and 'depends_on'; they are two spellings of its "
                      "parents, give one"};
  }
  return file;
}

// The job's `type`: true for a service. Writes job_type only for a service (a normal run is the default).
bool AddJobType(const YamlFields& job, wire::JobSpec* spec) {
  if (!job.Has("type")) return false;
  const std::string type = job.Text("type");
  const auto it = kJobTypes.find(AsciiUpper(type));
  if (it == kJobTypes.end()) {
    throw Failure{job.Line("type"),
                  "'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept "
                  "running), in any case, in " +
                      job.what() + "; got '" + type + "'"};
  }
  if (it->second) spec->job_type = "SERVICE";
  return it->second;
}

class Parser {
 public:
  explicit Parser(const std::string& file)
      : files_(fs::absolute(fs::path(file)).lexically_normal().parent_path()) {}

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
    if (!joblet) TitanTopKeys(top, &out);
    project_zip_ = ProjectZipName(out.dag);
    int index = 1;
    for (const YAML::Node& job : jobs) {
      out.jobs.push_back(joblet ? JobletJob(job, index) : TitanJob(job, index));
      ++index;
    }
    if (uses_project_) out.project = Project(top);
    files_.CheckFit();
    out.files = files_.Take();
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

  // agent_run_id; `version` (any string or number, ignored) and `project` (default true).
  void TitanTopKeys(const YamlFields& top, Pipeline* out) {
    if (top.Has("agent_run_id")) out->agent_run_id = top.Text("agent_run_id");
    if (top.Has("version")) {
      const ScalarKind kind = KindOf(top.Value("version"));
      if (kind != ScalarKind::kString && kind != ScalarKind::kInt && kind != ScalarKind::kFloat) {
        throw Failure{top.Line("version"),
                      "'version' must be a string or a number in the pipeline (it is "
                      "accepted and ignored)"};
      }
    }
    if (top.Has("project")) project_ = top.Flag("project");
  }

  PipelineProject Project(const YamlFields& top) const {
    if (project_zip_.size() > kMaxNameComponent) {
      throw Failure{top.Line("name"), "the pipeline's name is too long to name its project zip ('" +
                                          project_zip_.substr(0, 40) + "...', more than " +
                                          std::to_string(kMaxNameComponent) + " bytes); shorten 'name'"};
    }
    return PipelineProject{files_.folder().string(), project_zip_};
  }

  // "job 'EXTRACT'" when the job's id is a string, else "job #2".
  static std::string JobName(const YAML::Node& job, int index, std::string_view id_key) {
    const YamlFields probe(job, "");
    if (probe.Has(id_key) && KindOf(probe.Value(id_key)) == ScalarKind::kString) {
      return "job '" + probe.Value(id_key).Scalar() + "'";
    }
    return "job #" + std::to_string(index);
  }

  wire::JobSpec TitanJob(const YAML::Node& node, int index) {
    const YamlFields job(node, JobName(node, index, "id"));
    job.CheckKeys(WithLimitKeys(kTitanJobKeys));
    job.Require("id", "a unique job id");
    const bool uses_file = UsesFile(job);
    wire::JobSpec spec{.id = job.Text("id")};
    AddJobFile(job, uses_file, &spec);
    if (AddJobType(job, &spec) && uses_file && !job.Has("port")) {
      throw Failure{job.line(), job.what() +
                                    " is a service run from 'file', so it needs 'port' (the port it "
                                    "listens on)"};
    }
    if (job.Has("args")) spec.args = job.Text("args");
    if (job.Has("port")) spec.port = job.Integer("port");
    if (job.Has("delay")) spec.delay_ms = job.Milliseconds("delay");
    if (job.Has("affinity")) spec.affinity = job.Flag("affinity");
    for (const char* key : {"dependencies", "depends_on"}) {  // UsesFile refused both
      if (job.Has(key)) spec.parents = job.TextList(key);
    }
    if (job.Has("env")) spec.env = job.TextMap("env");
    if (job.Has("secret_env")) spec.secret_env = job.TextMap("secret_env");
    if (job.Has("hitl_message")) spec.hitl_message = job.Text("hitl_message");
    if (job.Has("max_wait_seconds")) spec.max_wait_s = job.Integer("max_wait_seconds");
    if (job.Has("runtime")) spec.runtime = job.Text("runtime");  // a runtime a worker offers
    SharedKeys(job, &spec);
    return spec;
  }

  // A `script`, or a `file` with `project: false`, is read and sent; a `file` of the project becomes an
  // archive job's "<zip>/<path>".
  void AddJobFile(const YamlFields& job, bool uses_file, wire::JobSpec* spec) {
    const char* key = uses_file ? "file" : "script";
    const std::string path = job.Text(key);
    if (!uses_file || !project_) {
      spec->file = files_.AddScript(path, key, job.Line(key));
      return;
    }
    spec->file = project_zip_ + "/" + files_.ProjectEntry(path, job.Line(key));
    spec->archive = true;
    uses_project_ = true;
  }

  wire::JobSpec JobletJob(const YAML::Node& node, int index) {
    const YamlFields job(node, JobName(node, index, "name"));
    job.CheckKeys(WithLimitKeys(kJobletJobKeys));
    job.Require("name", "a unique job name");
    job.Require("command", "the program to run");
    const std::string name = job.Text("name"), command = job.Text("command");
    const std::vector<std::string> args = job.Has("args") ? job.TextList("args") : std::vector<std::string>{};
    if (job.Has("runtime"))
      (void)job.Text("runtime");  // accepted and ignored: workers use their own interpreters
    wire::JobSpec spec{.id = name};
    std::error_code ec;
    if (kInterpreters.count(command) && !args.empty() && fs::is_regular_file(files_.folder() / args[0], ec)) {
      spec.file = files_.AddScript(args[0], "script", job.Line("args"));
      if (args.size() > 1) {
        std::string joined;
        for (size_t i = 1; i < args.size(); ++i) joined += (i > 1 ? " " : "") + PipelineShellQuote(args[i]);
        spec.args = joined;
      }
    } else {
      if (name.find('/') != std::string::npos || name == "." || name == "..") {
        throw Failure{job.Line("name"), "job name '" + name + "' cannot name its generated script " + name +
                                            ".sh; drop the '/'"};
      }
      std::string script = "#!/bin/sh\nexec " + PipelineShellQuote(command);
      for (const std::string& a : args) script += " " + PipelineShellQuote(a);
      script += "\n";
      spec.file = files_.Put(name + ".sh", std::move(script), "generated for job '" + name + "'", job.line());
    }
    if (job.Has("depends_on")) spec.parents = job.TextList("depends_on");
    if (job.Has("environment")) spec.env = job.TextMap("environment");
    if (job.Has("secret_environment")) spec.secret_env = job.TextMap("secret_environment");
    SharedKeys(job, &spec);
    return spec;
  }

  // The keys both formats have (work_dir and volumes included).
  static void SharedKeys(const YamlFields& job, wire::JobSpec* spec) {
    if (job.Has("priority")) spec->priority = job.Integer("priority");
    if (job.Has("requirement")) spec->requirement = job.Text("requirement");
    if (job.Has("retries")) spec->retries = job.Integer("retries");
    if (job.Has("timeout")) spec->timeout_ms = job.Milliseconds("timeout");
    if (job.Has("on_worker_lost")) {
      const std::string lost = job.Text("on_worker_lost");
      if (lost != "requeue" && lost != "fail") {
        throw Failure{
            job.Line("on_worker_lost"),
            "'on_worker_lost' must be requeue (run it again elsewhere, the default) or fail (never run "
            "it twice) in " +
                job.what() + "; got '" + lost + "'"};
      }
      spec->on_worker_lost = lost;
    }
    ReadLimitKeys(job, spec);
    ApplyYamlRequests(job, spec);
    if (job.Has("work_dir")) spec->work_dir = job.Text("work_dir");  // docs/job-control.md
    // A .py job's fresh interpreter instead of a fork of the worker's warm one.
    if (job.Has("cold_start") && job.Flag("cold_start")) spec->cold_start = true;
    if (job.Has("volumes")) spec->volumes = job.TextList("volumes");
  }

  PipelineFiles files_;
  bool project_ = true;        // the pipeline's `project`
  bool uses_project_ = false;  // some job runs from the project
  std::string project_zip_;
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

std::string ProjectZipName(std::string_view dag) {
  std::string out;
  for (const char c : dag) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 && u < 0x80) {
      out += c;
    } else if (c == '.' || c == '_' || c == '-') {
      out += c;
    } else if ((u & 0xC0) != 0x80) {  // one '_' per code point: UTF-8 continuation bytes add none
      out += '_';
    }
  }
  return out + ".zip";
}

namespace {

std::vector<wire::FileBlob> FileBlobs(const Pipeline& pipeline) {
  std::vector<wire::FileBlob> files;
  for (const auto& [name, content] : pipeline.files)
    files.push_back(wire::FileBlob{.name = name, .content = content});
  return files;
}

}  // namespace

wire::Message BuildPipelineSubmit(const Pipeline& pipeline) {
  return wire::JobSubmitMsg{.jobs = pipeline.jobs,
                            .files = FileBlobs(pipeline),
                            .dag = pipeline.dag,
                            .agent_run_id = pipeline.agent_run_id,
                            .token = NewSubmissionToken()}
      .ToMessage();
}

wire::Message BuildScheduleAdd(const std::string& name, const std::string& cron, const Pipeline& pipeline) {
  return wire::ScheduleAddMsg{
      .name = name, .cron = cron, .jobs = pipeline.jobs, .files = FileBlobs(pipeline), .dag = pipeline.dag}
      .ToMessage();
}

}  // namespace titan::cli
