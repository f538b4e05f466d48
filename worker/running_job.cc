// Job workspace preparation and spawning.
#include "worker/running_job.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "artifacts/artifact_name.h"
#include "artifacts/zip_archive.h"
#include "base/cpu_list.h"
#include "security/credential.h"
#include "worker/job_files.h"
#include "worker/job_limits.h"
#include "worker/secret_mask.h"
#include "worker/service.h"
#include "worker/shared_script.h"
#include "worker/volumes.h"
#include "worker/warm_start.h"

namespace titan::worker {
namespace {

// In a job's folder: its own credential (JOB_ASSIGN.credential), mode 0600, named by TITAN_CREDENTIALS.
constexpr const char* kCredentialFile = ".titan-credential";

// The file name a job's script is written under: the last path component of spec.file.
std::string ScriptName(const std::string& file) {
  std::string name = file.substr(file.find_last_of('/') + 1);
  if (name.empty() || name == "." || name == "..") name = "job";
  return name;
}

}  // namespace

std::string SafeName(const std::string& id) {
  std::string out;
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (std::isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0)) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

namespace {

// The job's file in its directory: a hard link to the cached content (read-only, so a job cannot
// change the cache through it), or a copy where linking is impossible.
Result<std::string> PlaceScript(const std::string& content, const std::string& dir, const std::string& file,
                                bool fresh_dir) {
  const std::string script = dir + "/" + ScriptName(file);
  std::error_code ec;
  if (!fresh_dir) std::filesystem::remove(script, ec);  // an earlier attempt's
  if (link(content.c_str(), script.c_str()) != 0) {
    std::filesystem::copy_file(content, script, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return Status::Error("cannot write the job's script to '" + script + "': " + ec.message());
  }
  chmod(script.c_str(), 0555);
  return script;
}

// An archive job's project unpacked into `dir`; returns the entry point's path inside it.
Result<std::string> PlaceProject(const std::string& content, const std::string& dir, const std::string& file,
                                 const JobContext& ctx) {
  auto split = artifacts::SplitArchivePath(file);
  if (!split) return Status::Error("archive job file '" + file + "' must be '<project>.zip/<entry>'");
  if (auto st = artifacts::Unpack(content, dir, ctx.unpack_limits); !st.ok()) return st;
  const std::string entry = dir + "/" + split->entry;
  struct stat sb {};
  if (stat(entry.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    return Status::Error("project '" + split->archive + "' has no file '" + split->entry +
                         "'; name an entry point that exists inside the zip");
  }
  chmod(entry.c_str(), sb.st_mode | 0500);
  return entry;
}

// The job's args with every "{port}" replaced by its port (a service binds the port it is given).
std::string ArgsWithPort(std::string args, int64_t port) {
  if (port <= 0) return args;
  const std::string token = "{port}", value = std::to_string(port);
  for (size_t at = args.find(token); at != std::string::npos; at = args.find(token, at + value.size())) {
    args.replace(at, token.size(), value);
  }
  return args;
}

// A DAG job's script in the shared folder; in the job's own folder when a different script of that
// name runs from the shared folder now. *lock holds the shared placement while the job runs.
Result<std::string> PlaceDagScript(const std::string& content, const std::string& dir,
                                   const std::string& file, bool fresh_dir, const JobContext& ctx,
                                   exec::UniqueFd* lock) {
  auto shared = exec::PlaceShared(content, ctx.shared_dir, ScriptName(file));
  if (!shared.ok()) return shared.status();
  if (shared->path.empty()) return PlaceScript(content, dir, file, fresh_dir);
  *lock = std::move(shared->lock);
  return shared->path;
}

// Spawns job.spawn (in fresh cgroups holding its limits, when the worker has them) and captures its
// output into job.log.
Status SpawnRun(RunningJob& job) {
  if (job.cgroups != nullptr) {
    exec::JobLimits in_cgroup = job.limits;
    if (!job.spawn.cpus.empty()) in_cgroup.cpus.clear();  // pinned by affinity (no cpuset hierarchy)
    auto cgroup = exec::JobCgroup::Create(*job.cgroups, job.cgroup_name, in_cgroup, job.cgroup_pool.get());
    if (!cgroup.ok()) return cgroup.status();
    job.cgroup = std::move(cgroup.value());
    job.spawn.cgroups = job.cgroup.paths();
    job.spawn.cgroup_procs_fds = job.cgroup.ProcsFds();
  }
  job.warm = false;
  if (job.fork_servers != nullptr && !job.warm_python.empty()) {
    auto warm = job.fork_servers->Spawn(job.warm_python, job.spawn);
    if (warm.ok()) {
      job.child.emplace(std::move(warm.value()));
      job.warm = true;
      spdlog::debug("worker: job {}: forked from the warm {} (pid {})", job.id, job.warm_python,
                    job.child->pid());
    } else {
      spdlog::debug("worker: job {}: starts cold: {}", job.id, warm.message());
    }
  }
  if (!job.warm) {
    auto child = exec::ChildProcess::Spawn(job.spawn);
    if (!child.ok()) return child.status();
    job.child.emplace(std::move(child.value()));
  }
  job.out =
      std::make_unique<exec::OutputCapture>(job.child->stdout_fd(), exec::Stream::kStdout, job.log.get());
  job.err =
      std::make_unique<exec::OutputCapture>(job.child->stderr_fd(), exec::Stream::kStderr, job.log.get());
  return Status::Ok();
}

}  // namespace

namespace {

// titan_workspace/jobs/<id>/: one mkdir in the common case; it exists already when the job runs
// again (retry). True when it was created now (nothing of an earlier attempt to replace).
Result<bool> MakeJobDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create job directory '" + dir + "': " + ec.message());
  return true;
}

// The worker's environment, then TITAN_*, PORT and the job's own `env` and `secret_env` entries (later
// ones win).
std::vector<std::string> JobEnvironment(const wire::JobAssignMsg& assign, const JobContext& ctx,
                                        const RunningJob& job, const std::string& dir, int64_t port) {
  std::vector<std::string> env = PlainJobEnvironment(ctx);
  const int64_t first_attempt = assign.first_attempt.value_or(1);
  for (const std::string& kv : std::vector<std::string>{
           "TITAN_HOST=" + ctx.broker_host, "TITAN_PORT=" + std::to_string(ctx.broker_port),
           "TITAN_JOB_ID=" + job.id, "TITAN_ATTEMPT=" + std::to_string(job.attempt - first_attempt + 1),
           "TITAN_SHARED_DIR=" + ctx.shared_dir, "TITAN_JOB_DIR=" + dir}) {
    env.push_back(kv);
  }
  if (port > 0) env.push_back("PORT=" + std::to_string(port));
  if (assign.credential) env.push_back("TITAN_CREDENTIALS=" + dir + "/" + kCredentialFile);
  if (assign.job.env) env.insert(env.end(), assign.job.env->begin(), assign.job.env->end());
  if (assign.job.secret_env)
    env.insert(env.end(), assign.job.secret_env->begin(), assign.job.secret_env->end());
  return env;
}

// The job's log (job.log, made at its first output), whose lines are batched into JOB_LOG chunks of up
// to 64 KiB per stream.
std::unique_ptr<exec::JobLog> OpenJobLog(const std::string& dir, RunningJob* job) {
  return exec::JobLog::Open(dir + "/job.log", [job](const exec::OutputLine& line) {
    auto& pending = job->pending;
    if (pending.empty() || pending.back().stream != line.stream || pending.back().bytes.size() >= 64 * 1024) {
      pending.push_back(LogChunk{line.stream, {}});
    }
    pending.back().bytes.append(line.text);
    if (line.complete) pending.back().bytes.push_back('\n');
  });
}

// The runtime the job names, from this worker's (nullptr: none named). Placement sends a job only to a
// worker that offers its runtime; a race (the worker restarted without it) ends here, never with
// another interpreter.
Result<const exec::Runtime*> RuntimeOf(const wire::JobSpec& spec, const JobContext& ctx) {
  const std::string name = spec.runtime.value_or("");
  if (name.empty()) return static_cast<const exec::Runtime*>(nullptr);
  auto it = ctx.runtimes.find(name);
  if (it != ctx.runtimes.end()) return &it->second;
  std::string offered;
  for (const auto& [n, r] : ctx.runtimes) offered += (offered.empty() ? "" : ", ") + n;
  return Status::Error("this worker has no runtime '" + name +
                       "' (it offers: " + (offered.empty() ? std::string("none") : offered) +
                       "); start a worker with --runtime " + name + "=PATH");
}

// The toolchain for a script: the runtime's Python for .py files when it has one.
exec::Toolchain ToolsFor(const JobContext& ctx, const exec::Runtime* runtime) {
  exec::Toolchain tools = ctx.tools;
  if (runtime != nullptr && !runtime->python.empty()) tools.python = runtime->python;
  return tools;
}

// A command job's argv: the program (exec::ResolveCommand) and its arguments exactly as given, "{port}"
// replaced as in a script's args.
Result<std::vector<std::string>> CommandArgv(const wire::JobSpec& spec, const exec::Runtime* runtime,
                                             const JobContext& ctx, const exec::SpawnSpec& spawn) {
  Result<std::string> program =
      exec::ResolveCommand(spec.command.value_or(""), runtime, ctx.tools.python, spawn.env, spawn.cwd);
  if (!program.ok()) return program.status();
  std::vector<std::string> argv{std::move(program).value()};
  for (const std::string& arg : spec.argv.value_or(std::vector<std::string>{}))
    argv.push_back(ArgsWithPort(arg, spec.port.value_or(0)));
  return argv;
}

}  // namespace

std::vector<std::string> PlainJobEnvironment(const JobContext& ctx) {
  std::vector<std::string> env = ctx.base_env;
  env.push_back("PYTHONUNBUFFERED=1");
  return env;
}

Result<std::unique_ptr<RunningJob>> StartJob(const wire::JobAssignMsg& assign, const JobContext& ctx,
                                             const std::string& content) {
  const wire::JobSpec& spec = assign.job;
  auto job = std::make_unique<RunningJob>();
  job->id = spec.id;
  job->attempt = assign.attempt;
  Result<const exec::Runtime*> runtime = RuntimeOf(spec, ctx);
  if (!runtime.ok()) return runtime.status();
  const std::string dir = ctx.jobs_dir + "/" + SafeName(job->id);
  const Result<bool> fresh_dir = MakeJobDir(dir);
  if (!fresh_dir.ok()) return fresh_dir.status();
  if (spec.uploads) {
    if (Status s = exec::WriteUploads(dir, *spec.uploads); !s.ok()) return s;
  }
  const bool in_dag = assign.shared_workdir.value_or(false);
  const bool is_archive = spec.archive.value_or(false);
  const bool is_command = !spec.command.value_or("").empty();
  std::string script;  // the placed job file; empty for a command job
  if (!is_command) {
    auto placed = is_archive ? PlaceProject(content, dir, spec.file, ctx)
                  : in_dag   ? PlaceDagScript(content, dir, spec.file, *fresh_dir, ctx, &job->shared_lock)
                             : PlaceScript(content, dir, spec.file, *fresh_dir);
    if (!placed.ok()) return placed.status();
    script = std::move(placed).value();
  }
  job->spawn.cwd = in_dag && !is_archive && !is_command ? ctx.shared_dir : dir;
  if (const std::string work_dir = spec.work_dir.value_or(""); !work_dir.empty()) {
    Result<std::string> cwd = exec::MakeWorkDir(dir, work_dir);
    if (!cwd.ok()) return cwd.status();
    job->spawn.cwd = std::move(cwd).value();
  }
  if (assign.credential) {
    const wire::JobCredential& c = *assign.credential;
    const security::Credential credential{c.principal, "submitter", c.public_key, c.secret_key, c.server_key};
    job->credential_file = dir + "/" + kCredentialFile;
    if (Status s = security::WriteCredential(job->credential_file, credential, /*durable=*/false); !s.ok())
      return s;
  }
  const int64_t port = spec.port.value_or(0);
  job->spawn.env = JobEnvironment(assign, ctx, *job, dir, port);
  if (*runtime != nullptr) exec::AddRuntimeEnvironment(**runtime, job->spawn.env);
  if (spec.volumes) {
    if (Status s = exec::AttachVolumes(dir, ctx.volumes_dir, *spec.volumes, &job->spawn.env); !s.ok())
      return s;
  }
  auto argv = is_command ? CommandArgv(spec, *runtime, ctx, job->spawn)
                         : exec::CommandFor(script, ArgsWithPort(spec.args.value_or(""), port),
                                            ToolsFor(ctx, *runtime));
  if (!argv.ok()) return argv.status();
  job->spawn.argv = std::move(argv.value());
  if (!is_command && ctx.fork_servers != nullptr) {
    const exec::WarmChoice start = exec::ChooseStart(job->spawn.argv, ToolsFor(ctx, *runtime).python,
                                                     spec.cold_start.value_or(false), ctx.cold_python);
    if (start.warm) {
      job->warm_python = job->spawn.argv[0];
      job->fork_servers = ctx.fork_servers;
    }
  }
  job->spawn.death_signal_until_exec = ctx.runs_outlive_worker && !ServiceSpecOf(spec);
  job->limits = LimitsOf(spec);
  if (ctx.cgroups) {
    job->cgroups = &*ctx.cgroups;
    job->cgroup_pool = ctx.cgroup_pool;
    job->cgroup_name = SafeName(job->id) + "-" + std::to_string(job->attempt);
  }
  if (!job->limits.cpus.empty() && !(ctx.cgroups && std::ranges::count(ctx.cgroups->controls(), "cpuset"))) {
    auto cpus = ParseCpuList(job->limits.cpus);  // no cpuset cgroup: pinned with sched_setaffinity
    if (!cpus.ok()) return cpus.status();
    job->spawn.cpus = std::move(cpus.value());
  }
  job->log = OpenJobLog(dir, job.get());
  if (spec.secret_env) job->log->MaskSecrets(exec::SecretValues(*spec.secret_env));
  if (auto st = SpawnRun(*job); !st.ok()) return st;
  return job;
}

Status RespawnJob(RunningJob& job) {
  job.out.reset();
  job.err.reset();
  job.child.reset();
  (void)job.cgroup.End();  // normally ended with the run already (WorkerEdge::EndRun)
  job.exit.reset();
  job.output_abandoned = false;
  job.output_reported = false;
  job.probe.reset();
  return SpawnRun(job);
}

Status RekeyJobCredential(const RunningJob& job, const std::string& server_key) {
  if (job.credential_file.empty()) return Status::Ok();
  Result<security::Credential> c = security::ReadCredential(job.credential_file);
  if (!c.ok()) return c.status();
  if (c->server_key == server_key) return Status::Ok();
  c->server_key = server_key;
  return security::WriteCredential(job.credential_file, *c, /*durable=*/false);
}

}  // namespace titan::worker
