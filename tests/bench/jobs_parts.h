// The pieces jobs_bench puts together: references measured in the same run (raw posix_spawn, raw
// ZeroMQ echo) and the event-driven measurements (latency per job, failure detection).
#pragma once

#include <string>
#include <vector>

#include "tests/bench/cluster.h"

namespace titan::bench {

// jobs_refs.cc -----------------------------------------------------------------------------------

// posix_spawn + waitpid of `argv` from this process with `inflight` children at once, `n` in all:
// spawns per second. It reaps whatever child of this process exits meanwhile (waitpid(-1)): the
// benchmark's titan processes are not expected to exit during it.
double RawSpawnRate(const std::vector<std::string>& argv, int inflight, int n);

// Round trips per second through a ZeroMQ ROUTER that sends every message straight back (a thread of
// this process, over loopback TCP), with `window` messages of `body` in flight on one DEALER.
double EchoRate(size_t window, double seconds, const std::string& body);

// jobs_events.cc ---------------------------------------------------------------------------------

// Per-job times from sending JOB_SUBMIT, in microseconds.
struct Latencies {
  std::vector<double> accepted;  // JOB_ACCEPTED reply
  std::vector<double> assigned;  // first EVENT_JOB RUNNING (the broker assigned it to a worker)
  std::vector<double> started;   // last EVENT_JOB RUNNING (process executor: the worker's JOB_STARTED)
  std::vector<double> done;      // EVENT_JOB COMPLETED
  size_t failed = 0;             // jobs that ended otherwise or timed out
};

// Submits `n` jobs one at a time (the next after the previous one finished) and times each one.
Latencies MeasureLatency(Cluster& cluster, const JobFile& file, const std::string& prefix, int n);

// Where a job's time goes while a stream runs, from the EVENT_JOBs of jobs whose ids start with a
// prefix (received times, milliseconds). A job's slot is busy from assigned to done.
struct Breakdown {
  size_t jobs = 0;
  // RUNNING is published once, at assignment (workers send no JOB_STARTED): JOB_ASSIGN out -> spawned,
  // ran, reaped -> JOB_DONE in, journal committed: the whole slot occupancy.
  std::vector<double> assigned_to_done;
};

// Records EVENT_JOB on "job.<prefix>" from a thread of its own, until Stop().
class EventRecorder {
 public:
  EventRecorder(Cluster& cluster, const std::string& prefix);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;
  Breakdown Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One kill -9 of a worker running a job, times from the kill, in milliseconds (-1: not seen).
struct FailureTimes {
  double lost_ms = -1;      // EVENT_WORKER "lost" on worker.<name>
  double requeued_ms = -1;  // EVENT_JOB QUEUED of the job it was running
  double rerun_ms = -1;     // EVENT_JOB RUNNING of that job on the spare worker
};

// Starts worker `victim`, runs a long job on it, starts a spare worker, kill -9s the victim, and
// waits for the broker to notice. Cleans up the job's processes. `work_dir` holds the pid file.
FailureTimes MeasureFailure(Cluster& cluster, const std::string& victim, const std::string& spare,
                            const std::string& work_dir, int timeout_s);

}  // namespace titan::bench
