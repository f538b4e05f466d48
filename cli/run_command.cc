// `titan run FILE [ARGS...]`: submit one script as a job; with --wait, stream its log until it ends.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/job_view.h"
#include "cli/log_follow.h"
#include "cli/requests.h"
#include "cli/run_job.h"
#include "cli/run_payload.h"
#include "cli/submit.h"

namespace titan::cli {
namespace {

constexpr int kWaitSliceMs = 30000;

// Reads the job file; false with a printed error when it is unreadable or too large. A file that
// is not on this machine leaves *content empty: the broker runs the artifact deployed under that name.
bool ReadJobFile(const std::string& path, std::optional<std::string>* content) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    content->reset();
    return true;
  }
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "titan: cannot read '" << path << "': " << std::strerror(errno) << '\n';
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    std::cerr << "titan: '" << path << "' is not a regular file; give the script to run\n";
    return false;
  }
  if (static_cast<size_t>(st.st_size) > kMaxJobFileBytes) {
    std::fprintf(
        stderr, "titan: '%s' is %.1f MiB; a job file may be at most %zu MiB: use artifacts for large files\n",
        path.c_str(), static_cast<double>(st.st_size) / (1 << 20), kMaxJobFileBytes >> 20);
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  content->emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    std::cerr << "titan: cannot read '" << path << "': " << std::strerror(errno) << '\n';
    return false;
  }
  return true;
}

// Tells the user, on stderr, why a waited-for job is not running yet or is running again; each
// (state, attempt) once, as the broker may announce a state twice.
class ProgressReport {
 public:
  explicit ProgressReport(std::string id) : id_(std::move(id)) {}
  void operator()(const wire::EventJobMsg& event) {
    if (IsFinalState(event.state) || (event.state == last_state_ && event.attempt == last_attempt_)) return;
    last_state_ = event.state;
    last_attempt_ = event.attempt;
    if (event.state == "RUNNING") {
      if (event.attempt > 1)
        std::cerr << "titan: " << id_ << " attempt " << event.attempt << " running on "
                  << event.worker.value_or("") << '\n';
    } else if (event.reason) {
      std::cerr << "titan: " << id_ << " is " << event.state << ": " << *event.reason << '\n';
    }
  }

 private:
  std::string id_, last_state_;
  int64_t last_attempt_ = -1;
};

// A job nobody can run waits silently; say so once, right after submitting it.
void WarnIfNoWorkerCan(BrokerClient& broker, const std::string& requirement, const std::string& id) {
  wire::StatsMsg stats;
  if (broker.Call(wire::StatsGetMsg{}.ToMessage(), &stats) != kExitOk) return;
  for (const wire::WorkerInfo& w : stats.workers) {
    if (std::find(w.capabilities.begin(), w.capabilities.end(), requirement) != w.capabilities.end()) return;
  }
  if (stats.workers.empty()) {
    std::cerr << "titan: no worker is connected; " << id
              << " waits until one joins (`titan up` or `titan worker`)\n";
  } else {
    std::cerr << "titan: no worker has capability " << requirement << " now; " << id
              << " waits until one joins (`titan stats` lists workers, `titan stop " << id
              << "` cancels it)\n";
  }
}

}  // namespace

int WaitForJob(BrokerClient& broker, const std::string& id, JobView* job) {
  for (;;) {
    wire::JobInfoMsg reply;
    const int rc = broker.Call(wire::JobWaitMsg{.id = id, .timeout_ms = kWaitSliceMs}.ToMessage(), &reply,
                               kWaitSliceMs + broker.target().timeout_ms);
    if (rc != kExitOk) return rc;
    if (!reply.found || !reply.job) {
      std::cerr << "titan: the broker no longer knows job '" << id << "'\n";
      return kExitNotFound;
    }
    *job = JobFromInfo(*reply.job);
    if (IsFinalState(job->state) || (job->ready && job->state == "RUNNING")) return kExitOk;
  }
}

bool DurationOption(const CLI::Option& option, const std::string& text, std::optional<int64_t>* ms) {
  if (option.count() == 0) return true;
  int64_t value = 0;
  std::string error;
  if (!ParseDuration(option.get_name(), text, &value, &error)) {
    std::cerr << "titan: " << error << '\n';
    return false;
  }
  *ms = value;
  return true;
}

int RunJob(const Target& target, RunArgs args) {
  std::string bad = CheckEnv(args.env);
  if (bad.empty()) bad = ResolveSecretEnv(&args.secret_env);
  if (!bad.empty()) {
    std::cerr << "titan: " << bad << '\n';
    return kExitUsage;
  }
  if (!args.command.empty() && !args.file.empty()) {  // FILE is the command's first argument
    args.args.insert(args.args.begin(), args.file);
    args.file.clear();
  } else if (args.command.empty() && args.file.empty()) {
    std::cerr << "titan: give a FILE to run, or --command PROGRAM\n";
    return kExitUsage;
  }
  std::optional<std::string> content;  // an archive job's project is always a deployed artifact
  if (args.command.empty() && !args.archive && !ReadJobFile(args.file, &content)) return kExitUsage;
  const std::string stem = args.command.empty() ? args.file : args.command;
  const std::string id = args.id.empty() ? DefaultJobId(stem, std::random_device{}()) : args.id;

  BrokerClient broker(target);
  wire::JobAcceptedMsg accepted;
  if (const int rc = broker.Call(BuildSubmit(args, id, std::move(content)), &accepted); rc != kExitOk)
    return rc;
  std::cout << id << std::endl;
  if (args.job_type == "SERVICE") {
    std::cerr << "titan: service " << id << " deployed"
              << (args.port ? " on port " + std::to_string(args.port) : "")
              << "; `titan services` shows it, `titan stop " << id << "` ends it\n";
  }
  WarnIfNoWorkerCan(broker, args.requirement.empty() ? "GENERAL" : args.requirement, id);
  if (!args.wait) return kExitOk;

  if (const int rc = CopyJobLog(broker, id, /*follow=*/true, stdout, ProgressReport(id)); rc != kExitOk) {
    return rc;
  }
  JobView job;
  if (const int rc = WaitForJob(broker, id, &job); rc != kExitOk) return rc;
  if (job.state == "COMPLETED") return kExitOk;
  std::cerr << "titan: job " << id << " " << DescribeOutcome(job) << '\n';
  return kExitFailed;
}

void AddRunCommand(CLI::App& app, const Target& target, const std::vector<std::string>& script_args,
                   int* exit_code) {
  auto a = std::make_shared<RunArgs>();
  auto n = std::make_shared<std::array<int64_t, 2>>();      // priority, retries as parsed
  auto d = std::make_shared<std::array<std::string, 2>>();  // delay, timeout as written
  CLI::App* cmd =
      app.add_subcommand("run", "Submit a script as a job and print its id (--wait: follow it to the end)");
  cmd->footer(
      "FILE is read here and sent with the job (at most 3 MiB); a FILE that is not here names a\n"
      "script deployed with `titan deploy-script`. Its interpreter follows its extension or #! line. Put "
      "`--` before script arguments that start with '-':\n"
      "  titan run etl.py --retries 2 -- --date 2024-05-01\n"
      "A program instead of a script: titan run --command echo -- hello 'a b' (its arguments as given).\n"
      "Durations take a unit: 500ms, 2s, 5m, 1h (a bare number is seconds).\n"
      "Exit status with --wait: 0 when the job COMPLETED, 5 when it ended FAILED, DEAD or CANCELLED.");
  cmd->add_option("FILE", a->file, "the script to run (with --command: the command's first argument)");
  cmd->add_option("ARGS", a->args, "arguments passed to the script");
  cmd->add_option("--id", a->id, "job id (default: <file stem>-<8 random hex digits>)");
  cmd->add_option("--requirement", a->requirement,
                  "capability a worker must have (GENERAL, GPU, HIGH_MEM or a tag)");
  auto* priority = cmd->add_option("--priority", (*n)[0], "higher runs first (default 1)");
  auto* delay = cmd->add_option("--delay", (*d)[0], "how long to wait before it may run (500ms, 2s, 5m)");
  auto* retries = cmd->add_option("--retries", (*n)[1], "extra attempts after a failed run (default 0)")
                      ->check(CLI::NonNegativeNumber);
  auto* timeout = cmd->add_option("--timeout", (*d)[1], "kill and fail a run longer than this (0: none)");
  cmd->add_flag("--affinity", a->affinity, "prefer the worker that ran this job's first parent");
  cmd->add_option("--env", a->env, "NAME=value added to the job's environment (repeatable)")->take_all();
  cmd->add_option("--secret-env", a->secret_env,
                  "NAME=value (or NAME, its value from this environment) added to the job's environment as a "
                  "secret: sealed at rest, never shown, masked in its output (repeatable)")
      ->take_all();
  cmd->add_option(
         "--on-worker-lost", a->on_worker_lost,
         "when its worker is lost: requeue (run it again elsewhere, the default) or fail (never run it "
         "twice)")
      ->check(CLI::IsMember({"requeue", "fail"}));
  AddLimitOptions(cmd, &a->limits);
  AddRequestOptions(cmd, a.get());
  cmd->add_flag("--wait,-w", a->wait, "print the job's output as it runs and exit when it ends");
  cmd->add_flag(
      "--archive", a->archive,
      "FILE is <project>.zip/<entry>: run the entry inside the project deployed with `titan upload DIR`");
  auto uploads = std::make_shared<std::vector<std::string>>();
  AddPayloadOptions(cmd, a.get(), uploads.get());
  const Target* t = &target;
  const std::vector<std::string>* after_dashes = &script_args;
  cmd->callback([=] {
    a->args.insert(a->args.end(), after_dashes->begin(), after_dashes->end());
    if (std::string bad = ReadUploads(*uploads, a.get()); !bad.empty()) {
      std::cerr << "titan: " << bad << '\n';
      *exit_code = kExitUsage;
      return;
    }
    a->priority = priority->count() ? std::optional((*n)[0]) : std::nullopt;
    a->retries = retries->count() ? std::optional((*n)[1]) : std::nullopt;
    if (!DurationOption(*delay, (*d)[0], &a->delay_ms) ||
        !DurationOption(*timeout, (*d)[1], &a->timeout_ms)) {
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = RunJob(*t, *a);
  });
}

}  // namespace titan::cli
