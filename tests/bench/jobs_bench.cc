// jobs_bench: the job runtime end to end, against a broker and workers it starts itself.
//   process  jobs/s of tiny process jobs (/bin/true's bytes run directly, and a bash `exit 0` script)
//            through 1 and 2 workers; reference: raw posix_spawn+waitpid at the same concurrency.
//   control  jobs/s with --executor noop workers (the control plane alone), JOB_SUBMIT of 1 and of
//            100 jobs; reference: raw ZeroMQ DEALER/ROUTER echo round trips with the same window.
//   latency  one job at a time: submit -> accepted, -> RUNNING, -> started, -> COMPLETED (p50/p99).
//   failure  kill -9 a worker running a job: time until the broker publishes it lost and requeues.
// Prints RESULT lines (bench_util.h) and a summary with ratios to the references of this run.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/bench/bench_curve.h"
#include "tests/bench/jobs_parts.h"

namespace titan::bench {
namespace {

struct Options {
  std::vector<std::string> sections{"process", "control", "latency", "failure"};
  double seconds = 4.0;      // each measured stream is sized (from a pilot run) to take about this long
  double scale = 1.0;        // multiplies that size
  size_t max_jobs = 400000;  // cap on one stream
  int slots = 4;             // per worker: process section and latency
  std::vector<int> control_slots{4, 256};  // per noop worker, control section (< 1000: see RESULTS.md)
  size_t process_window = 64;              // JOB_SUBMITs outstanding in the process section
  size_t control_window = 512;             // JOB_SUBMITs outstanding in the control section (batch 1)
  size_t batch_window = 256;               // ... with batches of 100
  int latency_jobs = 300;
  int failure_trials = 3;
};

// A summary row: what was measured, the number, the reference of this run, and the aim.
struct Row {
  std::string what;
  double value = 0;
  std::string unit;
  std::string reference;  // what it is compared with
  double ref_value = 0;   // 0: no ratio
  std::string aim;
};

std::vector<Row> g_rows;

JobFile ReadTrue() {
  std::ifstream f("/bin/true", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return JobFile{"true", ss.str()};
}

size_t Scaled(const Options& o, size_t n) {
  return std::max<size_t>(1, static_cast<size_t>(static_cast<double>(n) * o.scale));
}

// Runs a pilot of `pilot` jobs (warm-up, and to learn the rate), then a measured run sized to take
// about o.seconds, and reports the measured one.
void RunSized(const Options& o, Cluster& cluster, const std::string& prefix, const std::string& label,
              size_t pilot, size_t batch, size_t window, const JobFile& file, const std::string& ref_name,
              double ref, const std::string& aim) {
  const StreamResult p = SubmitStream(cluster, prefix + "-pilot", pilot, batch, window, file, 300);
  if (!p.complete) {
    std::fprintf(stderr, "jobs_bench: %s: pilot: %s\n", label.c_str(), p.error.c_str());
    g_rows.push_back(Row{label + " (FAILED, see stderr)", 0, "jobs/s", ref_name, ref, aim});
    return;
  }
  const double pilot_rate = static_cast<double>(p.jobs) / p.seconds;
  size_t n = static_cast<size_t>(pilot_rate * o.seconds * o.scale);
  n = std::clamp<size_t>(n - n % batch, batch, o.max_jobs);
  const StreamResult r = SubmitStream(cluster, prefix, n, batch, window, file, 300);
  const double rate = r.complete ? static_cast<double>(r.jobs) / r.seconds : 0;
  Result("jobs_bench")
      .Add("case", prefix)
      .Add("jobs", r.jobs)
      .Add("batch", batch)
      .Add("window", window)
      .Add("seconds", r.seconds)
      .Add("submit_seconds", r.submit_seconds)
      .Add("failed", r.failed)
      .Add("complete", r.complete ? "yes" : "no")
      .Add("jobs_per_s", rate)
      .Add("ref_per_s", ref)
      .Print();
  if (!r.error.empty()) std::fprintf(stderr, "jobs_bench: %s: %s\n", label.c_str(), r.error.c_str());
  g_rows.push_back(
      Row{r.complete ? label : label + " (INCOMPLETE, see stderr)", rate, "jobs/s", ref_name, ref, aim});
}

// The raw posix_spawn reference for `argv` at `inflight`, measured now (just before the stream it is
// compared with, so both see the same machine).
double RawRef(const Options& o, const std::vector<std::string>& argv, const std::string& program,
              int inflight) {
  const double rate =
      RawSpawnRate(argv, inflight, static_cast<int>(Scaled(o, program == "true" ? 3000 : 1500)));
  Result("raw_spawn").Add("program", program).Add("inflight", inflight).Add("per_s", rate).Print();
  return rate;
}

double EchoRef(size_t window, const std::string& body) {
  const double rate = EchoRate(window, 2.0, body);
  Result("zmq_echo")
      .Add("window", window)
      .Add("body_bytes", body.size())
      .Add("round_trips_per_s", rate)
      .Print();
  return rate;
}

void ProcessSection(const Options& o, const std::string& root) {
  const JobFile elf = ReadTrue();
  const JobFile sh{"true.sh", "exit 0\n"};
  const std::string script = root + "/true.sh";
  std::ofstream(script) << sh.content;
  for (int workers : {1, 2}) {
    Cluster cluster(root + "/process-" + std::to_string(workers) + "w");
    if (!cluster.ok()) return;
    for (int i = 1; i <= workers; ++i) {
      if (!cluster.AddWorker("w" + std::to_string(i), o.slots, "process")) return;
    }
    const int inflight = workers * o.slots;
    const std::string shape = std::to_string(workers) + "w x " + std::to_string(o.slots) + " slots";
    const std::string tag = std::to_string(workers) + "w" + std::to_string(o.slots) + "s";
    const std::string in_flight = ", " + std::to_string(inflight) + " in flight";
    const double raw_elf = RawRef(o, {"/bin/true"}, "true", inflight);
    RunSized(o, cluster, "process.elf." + tag, "process ELF true, " + shape, 500, 1, o.process_window, elf,
             "raw posix_spawn true" + in_flight, raw_elf, ">= 45% of raw and >= 1500 jobs/s");
    if (workers == 1) {
      // Not a measured run: the same stream with a subscriber, to see where a slot's time goes.
      EventRecorder recorder(cluster, "bd-");
      const StreamResult r = SubmitStream(cluster, "bd-elf", Scaled(o, 600), 1, o.process_window, elf, 300);
      const Breakdown b = recorder.Stop();
      Result("breakdown")
          .Add("case", "process.elf." + tag)
          .Add("jobs", b.jobs)
          .Add("jobs_per_s", r.complete ? static_cast<double>(r.jobs) / r.seconds : 0)
          .Add("assigned_to_done_p50_ms", Percentile(b.assigned_to_done, 50))
          .Add("assigned_to_done_p99_ms", Percentile(b.assigned_to_done, 99))
          .Print();
    }
    const double raw_sh = RawRef(o, {"/bin/bash", script}, "bash_true.sh", inflight);
    RunSized(o, cluster, "process.sh." + tag, "process bash exit-0 .sh, " + shape, 300, 1, o.process_window,
             sh, "raw posix_spawn bash x.sh" + in_flight, raw_sh, "");
  }
}

void ControlSection(const Options& o, const std::string& root) {
  const JobFile sh{"noop.sh", "exit 0\n"};
  const std::string body1 = SubmitBody({"echo-000000"}, sh, "", 1);
  std::vector<std::string> ids100;
  for (int i = 0; i < 100; ++i) ids100.push_back("echo-" + std::to_string(100000 + i));
  const std::string body100 = SubmitBody(ids100, sh, "", 1);
  for (int slots : o.control_slots) {
    Cluster cluster(root + "/control-" + std::to_string(slots));
    if (!cluster.ok()) return;
    for (int i = 1; i <= 2; ++i) {
      if (!cluster.AddWorker("n" + std::to_string(i), slots, "noop")) return;
    }
    const std::string shape = "2 noop workers x " + std::to_string(slots) + " slots";
    const std::string tag = "2w" + std::to_string(slots) + "s";
    const double echo1 = EchoRef(o.control_window, body1);
    RunSized(o, cluster, "control.b1." + tag, "control batch 1, " + shape, 2000, 1, o.control_window, sh,
             "zmq echo round trips, window " + std::to_string(o.control_window), echo1, ">= 20000 jobs/s");
    const double echo100 = EchoRef(o.batch_window, body100);
    RunSized(o, cluster, "control.b100." + tag, "control batch 100, " + shape, 5000, 100, o.batch_window, sh,
             "zmq echo, window " + std::to_string(o.batch_window) + ", x100 jobs per message", echo100 * 100,
             ">= 20000 jobs/s");
  }
}

void ReportLatency(const std::string& id, const std::string& label, const Latencies& l) {
  auto ms = [](const std::vector<double>& v, double p) { return Percentile(v, p) / 1000.0; };
  Result("latency")
      .Add("case", id)
      .Add("jobs", l.done.size())
      .Add("failed", l.failed)
      .Add("accepted_p50_ms", ms(l.accepted, 50))
      .Add("accepted_p99_ms", ms(l.accepted, 99))
      .Add("assigned_p50_ms", ms(l.assigned, 50))
      .Add("assigned_p99_ms", ms(l.assigned, 99))
      .Add("started_p50_ms", ms(l.started, 50))
      .Add("started_p99_ms", ms(l.started, 99))
      .Add("done_p50_ms", ms(l.done, 50))
      .Add("done_p99_ms", ms(l.done, 99))
      .Print();
  char buf[160];
  std::snprintf(buf, sizeof buf, "p99 %.2f ms", ms(l.started, 99));
  g_rows.push_back(
      Row{"latency submit->start p50, " + label, ms(l.started, 50), "ms", buf, 0, "p50 < 1.5 ms"});
  std::snprintf(buf, sizeof buf, "p99 %.2f ms", ms(l.done, 99));
  g_rows.push_back(Row{"latency submit->done p50, " + label, ms(l.done, 50), "ms", buf, 0, ""});
}

void LatencySection(const Options& o, const std::string& root) {
  {
    Cluster cluster(root + "/latency-noop");
    if (!cluster.ok() || !cluster.AddWorker("n1", o.slots, "noop")) return;
    ReportLatency("latency.noop", "noop",
                  MeasureLatency(cluster, JobFile{"noop.sh", "exit 0\n"}, "lat-noop", o.latency_jobs));
  }
  Cluster cluster(root + "/latency-process");
  if (!cluster.ok() || !cluster.AddWorker("p1", o.slots, "process")) return;
  ReportLatency("latency.elf", "process ELF true",
                MeasureLatency(cluster, ReadTrue(), "lat-elf", o.latency_jobs));
  ReportLatency("latency.sh", "process bash .sh",
                MeasureLatency(cluster, JobFile{"true.sh", "exit 0\n"}, "lat-sh", o.latency_jobs));
}

void FailureSection(const Options& o, const std::string& root) {
  Cluster cluster(root + "/failure");
  if (!cluster.ok()) return;
  std::vector<double> lost, requeued, rerun;
  for (int i = 1; i <= o.failure_trials; ++i) {
    const FailureTimes t =
        MeasureFailure(cluster, "victim" + std::to_string(i), "spare" + std::to_string(i), root, 30);
    Result("failure")
        .Add("trial", i)
        .Add("heartbeat_ms", 1000)
        .Add("lost_ms", t.lost_ms)
        .Add("requeued_ms", t.requeued_ms)
        .Add("rerun_ms", t.rerun_ms)
        .Print();
    if (t.lost_ms >= 0) lost.push_back(t.lost_ms);
    if (t.requeued_ms >= 0) requeued.push_back(t.requeued_ms);
    if (t.rerun_ms >= 0) rerun.push_back(t.rerun_ms);
  }
  g_rows.push_back(Row{"failure: kill -9 -> worker lost (median of " + std::to_string(lost.size()) + ")",
                       Percentile(lost, 50) / 1000.0, "s", "original Titan (published)", 30.0,
                       "3 missed 1 s beats"});
  g_rows.push_back(Row{"failure: kill -9 -> job requeued (median)", Percentile(requeued, 50) / 1000.0, "s",
                       "original Titan (published)", 30.0, ""});
  g_rows.push_back(Row{"failure: kill -9 -> job running again (median)", Percentile(rerun, 50) / 1000.0, "s",
                       "original Titan (published)", 30.0, ""});
}

void PrintSummary() {
  std::printf("\n%-52s %12s %-7s %8s  %-46s %s\n", "jobs_bench", "value", "unit", "ratio",
              "reference (same run)", "aim");
  for (const Row& r : g_rows) {
    char ratio[32] = "";
    char ref[96];
    if (r.ref_value > 0) {
      const double x = r.value / r.ref_value;
      std::snprintf(ratio, sizeof ratio, x >= 0.1 || x == 0 ? "%.2f" : "%.3f", x);
      std::snprintf(ref, sizeof ref, "%s = %.0f", r.reference.c_str(), r.ref_value);
    } else {
      std::snprintf(ref, sizeof ref, "%s", r.reference.c_str());
    }
    std::printf("%-52s %12.2f %-7s %8s  %-46s %s\n", r.what.c_str(), r.value, r.unit.c_str(), ratio, ref,
                r.aim.c_str());
  }
}

}  // namespace
}  // namespace titan::bench

int main(int argc, char** argv) {
  titan::bench::Options o;
  std::string sections = "process,control,latency,failure";
  CLI::App app{"Titan job runtime benchmark (starts its own broker and workers)"};
  app.add_option("--sections", sections, "process,control,latency,failure")->capture_default_str();
  app.add_option("--seconds", o.seconds, "target duration of each measured stream")->capture_default_str();
  app.add_option("--scale", o.scale, "multiply job counts (0.2 for a quick look)")->capture_default_str();
  app.add_option("--slots", o.slots, "slots per worker (process section, latency)")->capture_default_str();
  std::string control_slots = "4,256";
  app.add_option("--control-slots", control_slots, "slots per noop worker, one control run each")
      ->capture_default_str();
  app.add_option("--process-window", o.process_window, "JOB_SUBMITs in flight, process section")
      ->capture_default_str();
  app.add_option("--control-window", o.control_window, "JOB_SUBMITs in flight, control, batch 1")
      ->capture_default_str();
  app.add_option("--batch-window", o.batch_window, "JOB_SUBMITs in flight, control, batch 100")
      ->capture_default_str();
  app.add_option("--latency-jobs", o.latency_jobs, "jobs per latency case")->capture_default_str();
  app.add_option("--failure-trials", o.failure_trials, "kill -9 trials")->capture_default_str();
  bool curve = false;
  app.add_flag("--curve", curve, "run the broker with keys: clients, workers and events over CURVE");
  CLI11_PARSE(app, argc, argv);
  titan::bench::KillChildrenOnSignal();
  o.control_slots.clear();
  for (const auto& v : titan::bench::SplitList(control_slots))
    o.control_slots.push_back(std::atoi(v.c_str()));
  std::signal(SIGPIPE, SIG_IGN);
  titan::bench::TempDir root("titan-jobs-bench");
  if (curve && !titan::bench::EnableCurve(root.path())) return 1;
  titan::bench::PrintFsyncProbe(root.path(), titan::bench::ProbeFsync(root.path(), 200));
  const double workspace_us = titan::bench::ProbeWorkspaceUs(root.path(), 1000);
  titan::bench::Result("workspace_probe").Add("dir", root.path()).Add("us_per_job_dir", workspace_us).Print();
  titan::bench::g_rows.push_back(
      titan::bench::Row{"file system: mkdir + create a log, as per job", workspace_us, "us",
                        "(context: ext4 without a journal pays for recent deletions)", 0, ""});
  for (const std::string& s : titan::bench::SplitList(sections)) {
    if (s == "process") titan::bench::ProcessSection(o, root.path());
    if (s == "control") titan::bench::ControlSection(o, root.path());
    if (s == "latency") titan::bench::LatencySection(o, root.path());
    if (s == "failure") titan::bench::FailureSection(o, root.path());
  }
  titan::bench::PrintSummary();
  return 0;
}
