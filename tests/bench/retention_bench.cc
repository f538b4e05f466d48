// retention_bench: the broker's memory and journal over a long stream of finished jobs (issue 14, defect
// 11). A real broker with two --executor noop workers runs --jobs no-op jobs, submitted in JOB_SUBMITs of
// --batch; after every --step jobs (once the broker is idle) it samples the broker's RSS, the journal's
// size on disk (broker.db + its WAL) and STATS jobs_in_memory, and at the end times --stats-calls STATS
// requests. The reference, measured first in the same run: the same stream of --ref-jobs with retention
// off (what a broker without retention holds), and its STATS latency.
// Prints RESULT lines and a summary; reports, never asserts.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "schemas/generated/protocol.h"
#include "tests/bench/cluster.h"

namespace titan::bench {
namespace {

using wire::MsgType;

struct Options {
  size_t jobs = 1'000'000, step = 200'000, ref_jobs = 200'000;
  size_t batch = 100, window = 64;
  int slots = 256;
  int64_t retain_count = 50'000;  // the broker's default
  double journal_retention_s = 20;
  double rate =
      5000;  // jobs/s submitted with retention on (a busy cluster, below the broker's peak); 0: flat out
  int stats_calls = 2000;
};

struct Sample {
  size_t jobs = 0;
  double seconds = 0;
  int64_t rss_kb = 0, journal_bytes = 0, in_memory = 0;
};

int64_t RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

int64_t JournalBytes(const Cluster& c) {
  int64_t total = 0;
  for (const char* name : {"/broker/broker.db", "/broker/broker.db-wal"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(c.dir() + name, ec);
    if (!ec) total += static_cast<int64_t>(size);
  }
  return total;
}

int64_t StatsField(Cluster& c, const char* field) {
  auto stats = c.Call(wire::MakeMessage(MsgType::kStatsGet));
  return stats && stats->type == MsgType::kStats ? stats->Int(field) : -1;
}

// Jobs not yet final, by STATS; -1 when the broker does not answer.
int64_t Unfinished(Cluster& c) {
  auto stats = c.Call(wire::MakeMessage(MsgType::kStatsGet));
  if (!stats || stats->type != MsgType::kStats) return -1;
  int64_t n = 0;
  for (const char* f : {"pending", "blocked", "scheduled", "queued", "running"}) n += stats->Int(f);
  return n;
}

// Submits jobs <prefix>-<from> .. <prefix>-<to - 1> (JOB_SUBMITs of o.batch, o.window in flight, at most
// `rate` jobs/s counted from `t0`; 0: as fast as accepted), then waits until no job is unfinished. False
// (with a message) on an error or after 10 minutes.
bool Stream(Cluster& c, const Options& o, const std::string& prefix, size_t from, size_t to, double rate,
            Clock::time_point t0) {
  static const JobFile kNoop{"noop.sh", "exit 0\n"};
  zmq::socket_t s(c.ctx(), zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(c.endpoint());
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  size_t next = from, outstanding = 0;
  int64_t rid = 1;
  auto due = [&](size_t job) {
    return t0 + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(job) / rate));
  };
  while (next < to || outstanding > 0) {
    while (next < to && outstanding < o.window && (rate <= 0 || Clock::now() >= due(next))) {
      std::vector<std::string> ids;
      for (size_t k = 0; k < o.batch && next < to; ++k) ids.push_back(prefix + "-" + std::to_string(next++));
      SendRaw(s, static_cast<uint8_t>(MsgType::kJobSubmit), SubmitBody(ids, kNoop, "", rid++));
      ++outstanding;
    }
    if (outstanding == 0) {  // ahead of the rate: wait for the next batch's time
      std::this_thread::sleep_until(due(next));
      continue;
    }
    auto d = RecvDecoded(s, 30000);
    if (!d || d->status != wire::DecodeStatus::kOk || d->msg.type != MsgType::kJobAccepted) {
      std::fprintf(stderr, "retention_bench: a JOB_SUBMIT was not accepted (%s)\n",
                   d ? std::string(d->msg.Bytes("reason")).c_str() : "timeout");
      return false;
    }
    --outstanding;
  }
  while (Clock::now() < deadline) {  // every job final: the broker is idle
    const int64_t left = Unfinished(c);
    if (left == 0) return true;
    if (left < 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "retention_bench: jobs did not finish within 10 minutes\n");
  return false;
}

std::pair<double, double> StatsLatencyUs(Cluster& c, int calls) {
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    (void)c.Call(wire::MakeMessage(MsgType::kStatsGet));
    us.push_back(MicrosBetween(t0, Clock::now()));
  }
  return {Percentile(us, 50), Percentile(us, 99)};
}

Sample Take(Cluster& c, size_t jobs, Clock::time_point t0) {
  return Sample{jobs, SecondsBetween(t0, Clock::now()), RssKb(c.BrokerPid()), JournalBytes(c),
                StatsField(c, "jobs_in_memory")};
}

bool StartWorkers(Cluster& c, const Options& o) {
  return c.ok() && c.AddWorker("n1", o.slots, "noop") && c.AddWorker("n2", o.slots, "noop");
}

void Report(const char* run, const Sample& s, const Sample& base) {
  Result("retention_bench")
      .Add("run", run)
      .Add("jobs", s.jobs)
      .Add("seconds", s.seconds)
      .Add("rss_kb", s.rss_kb)
      .Add("rss_growth_kb", s.rss_kb - base.rss_kb)
      .Add("journal_bytes", s.journal_bytes)
      .Add("jobs_in_memory", s.in_memory)
      .Print();
}

int Run(const Options& o, const std::string& root) {
  // Reference: retention off, --ref-jobs jobs.
  Sample ref_base, ref;
  std::pair<double, double> ref_stats;
  {
    Cluster c(root + "/off",
              {"--retain-finished-s", "0", "--retain-finished-count", "0", "--journal-retention-days", "0"});
    if (!StartWorkers(c, o)) return 1;
    const auto t0 = Clock::now();
    ref_base = Take(c, 0, t0);
    if (!Stream(c, o, "ref", 0, o.ref_jobs, 0, t0)) return 1;
    ref = Take(c, o.ref_jobs, t0);
    Report("retention_off", ref, ref_base);
    ref_stats = StatsLatencyUs(c, o.stats_calls);
  }
  // Retention on: --jobs jobs, sampled every --step.
  char days[64];
  std::snprintf(days, sizeof days, "%.9f", o.journal_retention_s / 86400.0);
  Cluster c(root + "/on",
            {"--retain-finished-count", std::to_string(o.retain_count), "--journal-retention-days", days});
  if (!StartWorkers(c, o)) return 1;
  const auto t0 = Clock::now();
  const Sample base = Take(c, 0, t0);
  std::vector<Sample> samples;
  for (size_t done = 0; done < o.jobs;) {
    const size_t to = std::min(o.jobs, done + o.step);
    if (!Stream(c, o, "job", done, to, o.rate, t0)) return 1;
    done = to;
    samples.push_back(Take(c, done, t0));
    Report("retention_on", samples.back(), base);
  }
  // Right after the stream the broker still deletes the last jobs from the journal as they age (as a
  // busy cluster's broker always does); once they are gone it is idle.
  const auto [p50, p99] = StatsLatencyUs(c, o.stats_calls);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.journal_retention_s + 3));
  const Sample idle = Take(c, o.jobs, t0);
  Report("retention_on_idle", idle, base);
  const auto [idle_p50, idle_p99] = StatsLatencyUs(c, o.stats_calls);
  Result("retention_bench_stats")
      .Add("jobs", o.jobs)
      .Add("p50_us", p50)
      .Add("p99_us", p99)
      .Add("idle_p50_us", idle_p50)
      .Add("idle_p99_us", idle_p99)
      .Add("ref_jobs", o.ref_jobs)
      .Add("ref_p50_us", ref_stats.first)
      .Add("ref_p99_us", ref_stats.second)
      .Print();

  const double per_job =
      static_cast<double>(ref.rss_kb - ref_base.rss_kb) * 1024 / static_cast<double>(o.ref_jobs);
  const double journal_per_job = static_cast<double>(ref.journal_bytes) / static_cast<double>(o.ref_jobs);
  std::printf(
      "\nretention off, %zu jobs: RSS +%.0f MiB (%.0f bytes per finished job), journal %.0f MiB (%.0f "
      "bytes per job); STATS p50 %.0f us, p99 %.0f us\n",
      o.ref_jobs, (ref.rss_kb - ref_base.rss_kb) / 1024.0, per_job, ref.journal_bytes / 1048576.0,
      journal_per_job, ref_stats.first, ref_stats.second);
  std::printf(
      "retention on (--retain-finished-count %lld, --journal-retention-days %s = %.0f s), %.0f jobs/s:\n",
      static_cast<long long>(o.retain_count), days, o.journal_retention_s, o.rate);
  std::printf("%10s %8s %10s %12s %14s\n", "jobs", "s", "RSS MiB", "journal MiB", "jobs in memory");
  for (const Sample& s : samples) {
    std::printf("%10zu %8.1f %10.1f %12.1f %14lld\n", s.jobs, s.seconds, s.rss_kb / 1024.0,
                s.journal_bytes / 1048576.0, static_cast<long long>(s.in_memory));
  }
  const Sample& first = samples.front();
  const Sample& last = samples.back();
  std::printf("growth %zu -> %zu jobs: RSS %+.1f%%, journal %+.1f%% (aim: <= 5%%)\n", first.jobs, last.jobs,
              100.0 * (last.rss_kb - first.rss_kb) / first.rss_kb,
              100.0 * (last.journal_bytes - first.journal_bytes) / std::max<int64_t>(1, first.journal_bytes));
  std::printf("RSS at %zu jobs with retention / RSS at %zu jobs without: %.2f\n", last.jobs, o.ref_jobs,
              static_cast<double>(last.rss_kb) / ref.rss_kb);
  std::printf(
      "STATS at %zu jobs, while the journal's oldest jobs are deleted: p50 %.0f us, p99 %.0f us; idle "
      "(journal %.1f MiB): p50 %.0f us, p99 %.0f us (aim: p99 <= 1000 us); idle p99 / p99 at %zu jobs "
      "without retention: %.2f\n",
      o.jobs, p50, p99, idle.journal_bytes / 1048576.0, idle_p50, idle_p99, o.ref_jobs,
      idle_p99 / ref_stats.second);
  return 0;
}

}  // namespace
}  // namespace titan::bench

int main(int argc, char** argv) {
  titan::bench::Options o;
  CLI::App app{"Broker memory, journal size and STATS latency over a long stream of finished jobs"};
  app.add_option("--jobs", o.jobs, "no-op jobs with retention on")->capture_default_str();
  app.add_option("--step", o.step, "sample every this many jobs")->capture_default_str();
  app.add_option("--ref-jobs", o.ref_jobs, "jobs of the reference run (retention off)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "jobs per JOB_SUBMIT")->capture_default_str();
  app.add_option("--window", o.window, "JOB_SUBMITs in flight")->capture_default_str();
  app.add_option("--slots", o.slots, "slots per noop worker (two workers)")->capture_default_str();
  app.add_option("--retain-count", o.retain_count, "the broker's --retain-finished-count")
      ->capture_default_str();
  app.add_option("--journal-retention-s", o.journal_retention_s,
                 "the broker's --journal-retention-days, in s")
      ->capture_default_str();
  app.add_option("--stats-calls", o.stats_calls, "STATS requests timed at the end")->capture_default_str();
  app.add_option("--rate", o.rate, "jobs/s submitted with retention on (0: as fast as the broker accepts)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  titan::bench::KillChildrenOnSignal();
  std::signal(SIGPIPE, SIG_IGN);
  titan::bench::TempDir root("titan-retention-bench");
  std::printf("== machine: %u cores\n", std::thread::hardware_concurrency());
  return titan::bench::Run(o, root.path());
}
