// BrokerCore: the broker's metrics (broker_metrics.h, docs/observability.md). Jobs are counted as they
// move, with the wall times the journal keeps (a job's submission, start and end survive a restart, so
// a latency spanning one is still right); METRICS_GET renders the counters with gauges of the state now.
#include "broker/broker_core.h"

namespace titan::broker {
namespace {

const char* KindOf(const Job& job) { return job.gate ? "gate" : job.service ? "service" : "job"; }

using Samples = metrics::FamilyList::Samples;

// The per-worker gauges of the machines workers reported in their heartbeats (label: the worker's name,
// a bounded set: the live workers). A worker that never reported one has none.
void AddMachines(metrics::FamilyList& out,
                 const std::vector<std::pair<std::string, wire::MachineStats>>& machines) {
  Samples cpu, used, total, load, disk, gpu_util, gpu_mem;
  for (const auto& [name, m] : machines) {
    if (m.cpu_permille) cpu.push_back({{name}, *m.cpu_permille});
    if (m.mem_used_bytes) used.push_back({{name}, *m.mem_used_bytes});
    if (m.mem_total_bytes) total.push_back({{name}, *m.mem_total_bytes});
    if (m.load1_milli) load.push_back({{name}, *m.load1_milli});
    if (m.disk_free_bytes) disk.push_back({{name}, *m.disk_free_bytes});
    for (const wire::GpuStats& g : m.gpus.value_or(std::vector<wire::GpuStats>{})) {
      gpu_util.push_back({{name, std::to_string(g.index)}, g.util_pct});
      gpu_mem.push_back({{name, std::to_string(g.index)}, g.mem_used_bytes});
    }
  }
  out.Gauge("titan_worker_cpu_ratio",
            "CPU busy on the worker's machine since its previous heartbeat (0 to 1).", {"worker"}, cpu, 1000);
  out.Gauge("titan_worker_memory_used_bytes", "Memory in use on the worker's machine (total less available).",
            {"worker"}, used);
  out.Gauge("titan_worker_memory_total_bytes", "Memory of the worker's machine.", {"worker"}, total);
  out.Gauge("titan_worker_load1", "1-minute load average of the worker's machine.", {"worker"}, load, 1000);
  out.Gauge("titan_worker_disk_free_bytes", "Space available to the worker on the filesystem of its folder.",
            {"worker"}, disk);
  out.Gauge("titan_worker_gpu_utilization_ratio", "GPU busy, as nvidia-smi last reported it (0 to 1).",
            {"worker", "gpu"}, gpu_util, 100);
  out.Gauge("titan_worker_gpu_memory_used_bytes", "GPU memory in use, as nvidia-smi last reported it.",
            {"worker", "gpu"}, gpu_mem);
}

}  // namespace

std::string BrokerCore::CapabilityLabel(const std::string& requirement) {
  return metrics_.capabilities.Admit(requirement);
}

void BrokerCore::CountSubmitted(const Job& job) {
  metrics_.submitted.Add({CapabilityLabel(job.requirement), KindOf(job)});
}

void BrokerCore::CountTransition(const Job& job, JobState from, JobState to, Instant now) {
  if (from == JobState::kRunning && !job.service && job.started_ms > 0)  // an attempt ended (any way)
    metrics_.run_time.Observe({CapabilityLabel(job.requirement)}, now.wall_ms - job.started_ms);
  if (IsFinal(to))
    metrics_.finished.Add(
        {metrics::LowerLabel(StateName(to)), CapabilityLabel(job.requirement), KindOf(job)});
}

void BrokerCore::CountStarted(const Job& job) {
  if (RunAttempt(job) == 1)  // the first start of a run: how long it waited since it was submitted
    metrics_.queue_wait.Observe({CapabilityLabel(job.requirement)}, job.started_ms - job.submitted_ms);
}

std::optional<int64_t> BrokerCore::TakeCommitRows() { return std::exchange(commit_rows_, std::nullopt); }

void BrokerCore::CountArtifactBytes(const wire::Message& request, const wire::Message& reply) {
  if (request.type == MsgType::kArtifactChunk && reply.type == MsgType::kArtifactChunkAck &&
      !request.blobs.empty())
    metrics_.artifact_bytes_in += static_cast<int64_t>(request.blobs.front().size());
  if (reply.type == MsgType::kArtifactData && !reply.blobs.empty())
    metrics_.artifact_bytes_out += static_cast<int64_t>(reply.blobs.front().size());
}

wire::Message BrokerCore::Metrics() {
  metrics::FamilyList out;
  const BrokerMetrics& m = metrics_;
  out.Counter("titan_jobs_submitted_total", "Jobs accepted, by the capability they require and their kind.",
              {"capability", "kind"}, m.submitted);
  out.Counter("titan_jobs_finished_total",
              "Jobs that reached a final state, by outcome (completed, failed, dead, cancelled, skipped).",
              {"outcome", "capability", "kind"}, m.finished);
  Samples states;
  for (int s = 0; s < kStateCount; ++s)
    states.push_back({{metrics::LowerLabel(StateName(JobState(s)))}, counts_[s]});
  out.Gauge("titan_jobs", "Jobs (runs) in each state, in memory and in the journal.", {"state"}, states);
  std::map<std::string, int64_t> depth;
  int64_t unsatisfiable = 0;
  for (const auto& [requirement, queue] : ready_) {
    if (queue.empty()) continue;
    depth[CapabilityLabel(requirement)] += static_cast<int64_t>(queue.size());
    if (!AnyWorkerCan(requirement)) unsatisfiable += static_cast<int64_t>(queue.size());
  }
  Samples queues;
  for (const auto& [label, n] : depth) queues.push_back({{label}, n});
  out.Gauge("titan_queue_depth", "Jobs QUEUED for a free slot, by the capability they require.",
            {"capability"}, queues);
  out.Gauge("titan_jobs_unsatisfiable", "QUEUED jobs that no live worker can run (missing capability).",
            unsatisfiable);
  out.Histogram("titan_job_queue_wait_seconds", "From a job's submission to its first start on a worker.",
                {"capability"}, m.queue_wait, 1000);
  out.Histogram("titan_job_run_seconds", "From an attempt's start to its end (services excluded).",
                {"capability"}, m.run_time, 1000);
  int64_t ready = 0, draining = 0, slots = 0, busy = 0;
  std::vector<std::pair<std::string, wire::MachineStats>> machines;
  for (const auto& [name, w] : workers_) {
    ++(w.draining ? draining : ready);
    slots += w.slots;
    busy += static_cast<int64_t>(w.running.size());
    if (w.machine) machines.emplace_back(name, *w.machine);
  }
  out.Gauge("titan_workers", "Registered workers by state.", {"state"},
            Samples{{{"ready"}, ready}, {{"draining"}, draining}});
  out.Gauge("titan_slots", "Job slots of all registered workers.", slots);
  out.Gauge("titan_slots_busy", "Job slots in use.", busy);
  AddMachines(out, machines);
  out.Counter("titan_workers_lost_total", "Workers declared lost (silent past their liveness, or revoked).",
              m.workers_lost);
  out.Counter("titan_stale_epoch_results_total",
              "Worker reports refused for carrying an older lease epoch than their attempt's assignment.",
              m.stale_epoch_results);
  out.Counter("titan_submissions_replayed_total",
              "Submissions answered again by their idempotency token, submitting nothing.",
              m.submissions_replayed);
  out.Histogram(
      "titan_journal_commit_seconds",
      "How long a loop turn's journal commit took (one fsync; on PostgreSQL from sent to confirmed).",
      m.commit_us, 1'000'000);
  out.Histogram("titan_journal_commit_rows", "Job and audit rows written by one journal commit.",
                m.commit_rows);
  out.Counter("titan_journal_turns_overlapped_total",
              "Loop turns that ran while an earlier turn's journal commit was in flight (PostgreSQL).",
              m.turns_overlapped);
  out.Counter("titan_log_bytes_total", "Bytes of job output received from workers and stored.", m.log_bytes);
  out.Counter("titan_artifact_received_bytes_total", "Bytes of artifact uploads accepted.",
              m.artifact_bytes_in);
  out.Counter("titan_artifact_sent_bytes_total",
              "Bytes of artifacts and job files read by clients and workers.", m.artifact_bytes_out);
  out.Gauge("titan_jobs_in_memory", "Job runs held in memory (live and recently finished).", in_memory_);
  out.Counter("titan_jobs_evicted_total", "Finished job runs dropped from memory by retention.", evicted_);
  out.Counter("titan_refused_transitions_total",
              "Illegal job state transitions refused (a broker bug if not 0).", refused_transitions_);
  metrics::NodeCounters node = m.node;
  node.malformed_workers = malformed_from_workers_;
  node.read_only = read_only_.active();
  node.start_wall_ms = start_wall_ms_;
  out.Node("broker", node, /*worker_port=*/true);
  return wire::MetricsMsg{.node = "broker", .families = out.Take()}.ToMessage();
}

}  // namespace titan::broker
