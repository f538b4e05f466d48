// BrokerCore: all of the broker's state and decisions, with no sockets and no clock of its own.
// The node feeds it decoded messages and the current time, commits the journal, then sends what
// the core put in its outbox, so nothing leaves the broker before the state behind it is durable.
// Single-threaded: only the broker loop calls it.
//
// Time: every entry point takes an Instant, one reading of both clocks. Relative deadlines (heartbeat
// liveness, job delays, retry backoff, JOB_WAIT, recovery grace, upload expiry, auto-scaling) are
// monotonic milliseconds, so setting the wall clock moves none of them. The wall clock gives the
// timestamps the journal keeps and users see (submitted/started/finished, events) and the deadlines that
// must survive a restart (a gate's started_ms + max_wait, a schedule's next cron tick); those are
// turned into monotonic timers in one place, ArmWallTimer, and checked against the wall when they fire.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/log_limiter.h"
#include "base/read_only_mode.h"
#include "broker/artifact_service.h"
#include "broker/autoscale.h"
#include "broker/broker_metrics.h"
#include "broker/cron.h"
#include "broker/dispatch.h"
#include "broker/job.h"
#include "broker/journal.h"
#include "broker/log_store.h"
#include "broker/reconcile.h"
#include "broker/wire_names.h"
#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

// Routing frames of a client (ROUTER identity, plus the REQ delimiter if any).
using Route = std::vector<std::string>;

struct Outgoing {
  enum Kind { kClient, kWorker, kEvent } kind;
  Route route;           // kClient
  std::string identity;  // kWorker: the worker's routing identity
  std::string topic;     // kEvent
  wire::Message msg;
};

// `msg` carrying the request id of the request it answers, if it had one. The one field set by name:
// `rid` is an envelope field, on every message type and in no struct.
inline wire::Message WithRid(wire::Message msg, std::optional<int64_t> rid) {
  if (rid) msg.Set("rid", wire::Datum(*rid));
  return msg;
}

// An INVALID error reply: the request was well-formed but not acceptable; `reason` says why and what to do.
inline wire::Message Invalid(std::string reason) {
  return wire::MakeError(wire::ErrorCode::kInvalid, std::move(reason));
}

// INVALID naming job `job`'s `field`, its `value` and the range lo..hi (`hi_in_words`, when not empty,
// says hi for people); nullopt when `value` is within it.
std::optional<wire::Message> OutOfRange(const std::string& job, const char* field, int64_t value, int64_t lo,
                                        int64_t hi, const char* hi_in_words);

struct CoreConfig {
  int heartbeat_ms = 1000;
  int liveness = 10;  // heartbeats a worker may miss before it is dead (>= 3: see LeaseMs)
  int recovery_grace_ms = 10000;
  int store_port = 0;
  std::string store_host;
  int worker_port = 0;
  int pub_port = 0;
  int max_lost = 3;     // a job whose worker died this many times is DEAD
  ScalePolicy scaling;  // auto-scaling; off unless scaling.max_children > 0
  std::string host;     // this machine's hostname: WORKER_ADD asks a worker running here (Worker.host)
  // Recover skips (and logs) journal rows it cannot read instead of refusing to start (--salvage).
  bool salvage = false;
  // Audit log rows older than this are deleted (at start, then hourly); 0 keeps them forever.
  int64_t audit_retention_ms = 0;
  // Retention of finished jobs (core_retention.cc; 0: off). A submission whose jobs are all final leaves
  // memory retain_finished_ms after its last job ended, or sooner, oldest first, while more than
  // retain_finished_count jobs of such submissions are kept; requests fall back to the journal for it.
  // Finished jobs leave the journal, with their logs, journal_retention_ms after they ended.
  int64_t retain_finished_ms = 0;
  int64_t retain_finished_count = 0;
  int64_t journal_retention_ms = 0;
  // JOB_LIST examines at most this many jobs per request (core_job_list.cc): a filter that matches few
  // of a long history answers a shorter page and a cursor, in bounded time.
  int64_t list_scan_limit = 50000;
};

// The fencing lease a worker gets in WORKER_WELCOME: a worker that hears nothing from the broker this
// long kills its runs. Two brokers may give its runs away, and the lease ends half a heartbeat before
// the earlier of them:
// - this one, running: it declares a worker lost once it has been silent heartbeat_ms * liveness, that is
//   at least (liveness - 1) heartbeats after the last moment the two could talk;
// - a restarted one: it starts after the worker's last contact with this one, and requeues the runs
//   whose worker has not come back recovery_grace_ms after its start.
// So the worker's copy is dead before either requeues it. The lease is never below 1.5 heartbeats (a
// worker hears from the broker every heartbeat): with a recovery grace shorter than 2 heartbeats, a
// restarted broker may requeue a run its worker still has (docs/architecture.md, Fencing).
inline int64_t LeaseMs(const CoreConfig& c) {
  const int64_t beat = c.heartbeat_ms;
  const int64_t lost = beat * (c.liveness - 1) - beat / 2;
  const int64_t restarted = static_cast<int64_t>(c.recovery_grace_ms) - beat / 2;
  return std::max(beat + beat / 2, std::min(lost, restarted));
}

class BrokerCore {
 public:
  // `artifacts` may be null (tests without a registry): artifact requests then get UNAVAILABLE and
  // jobs must carry their files inline.
  BrokerCore(CoreConfig config, Journal* journal, LogStore* logs, ArtifactService* artifacts = nullptr);

  // Loads the journal; jobs that were RUNNING wait recovery_grace_ms for their worker to return. An
  // error (the broker must not start): a damaged file, or a corrupt row without config.salvage, named
  // with what is wrong and what to do.
  Status Recover(Instant now);

  // A client's request: decoded here into its struct (schemas/generated/messages.h) and answered. A
  // request that does not decode (a required field missing, a field of another type) is answered ERROR
  // MALFORMED naming the field, and changes nothing. `principal` is the sender's (its ZAP User-Id; empty
  // in plaintext): a state-changing request is recorded in the audit log with it, whatever its answer
  // (broker/audit.h), in the turn's transaction.
  void OnClient(const Route& from, std::optional<int64_t> rid, const wire::Message& request, Instant now,
                const std::string& principal = "");
  // A client's request the node refused before the core saw it (`why`: FORBIDDEN, its role does not
  // allow it): recorded in the audit log and answered ERROR `why` once the turn is durable.
  void OnRefused(const Route& from, std::optional<int64_t> rid, const wire::Message& request,
                 const Status& why, Instant now, const std::string& principal);
  // Records a row the node saw happen outside any request (a key change): written with this turn.
  void Audit(wire::AuditEntry entry);
  // A worker's message: decoded here into its struct. One that does not decode is logged, counted
  // (malformed_from_workers), answered ERROR MALFORMED and otherwise dropped: it changes nothing, not
  // even when the worker was last seen.
  // `principal` names the key the worker connected with (security/zap.h; empty without CURVE): a worker
  // name registered by one principal is refused to another while that worker is live.
  void OnWorker(const std::string& identity, const wire::Message& msg, Instant now,
                std::optional<int64_t> rid = std::nullopt, const std::string& principal = "");
  // Principals whose keys the cluster no longer admits (security::KeysChange::revoked): each worker
  // registered under one of them is lost at once rather than after its heartbeats. Its runs are
  // cancelled there (it is told why: a worker still honest stops them) and requeued for other workers
  // without counting as a loss of the job, and its name is free again.
  void RevokeWorkers(const std::vector<std::string>& principals, Instant now);
  // Fires due timers (delays, retries, waits, heartbeats, recovery), then dispatches.
  void OnTick(Instant now);
  // Dispatches queued jobs to free slots; call once per loop turn after the messages of the turn.
  void Dispatch(Instant now);

  // Ends the turn's journal work: writes each job changed this turn once (its state now), then
  // commits (one fsync). Call after OnTick and before sending TakeOutbox(): nothing of the turn may
  // leave the broker before it is durable. Ok: the turn is durable, or it failed for lack of space and
  // was rolled back (RollBack: the broker is read-only now and the turn's requests are answered
  // UNAVAILABLE). An error: the turn is not durable for another reason, and the broker must stop.
  Status EndTurn(Instant now);

  // Read-only mode (core_read_only.cc; docs/operations.md "A full disk"). While the disk is full the
  // broker refuses state-changing requests (UNAVAILABLE, ReadOnlyMode::Refusal), serves reads from
  // memory, keeps workers alive, changes no journaled state, and probes the journal every
  // ReadOnlyMode::kProbeEveryMs; the first probe that succeeds ends it.
  bool read_only() const { return read_only_.active(); }
  // At start, after Recover: one probe; a broker that starts on a full disk starts read-only.
  void CheckSpace(Instant now);

  // When OnTick next has something to do, in monotonic ms (INT64_MAX: nothing; 0: at once).
  int64_t NextDeadline() const;
  // What the turn sends, in order, then the turn's JOB_ACKs (one per worker, FlushAcks).
  std::vector<Outgoing> TakeOutbox();

  // For tests: "w1:1/4 w2:0/4" and job states.
  std::string RenderWorkers() const;
  const Job* FindJob(const std::string& id) const;
  // The ids of the jobs RUNNING now (after Recover: those whose workers may still rejoin).
  std::vector<std::string> RunningJobIds() const;
  // Jobs (runs) in each state, over memory and the journal, kept on every transition (STATS); and
  // the runs held in memory. RecountForTest walks memory and recounts the runs there.
  const int64_t (&state_counts() const)[kStateCount] { return counts_; }
  int64_t jobs_in_memory() const { return in_memory_; }
  int64_t RecountForTest() const;
  // Illegal state transitions refused so far (release builds; a debug build asserts instead). Tests
  // check it stays 0.
  int64_t refused_transitions() const { return refused_transitions_; }
  // Worker messages dropped because they did not decode (into frames or into their struct).
  int64_t malformed_from_workers() const { return malformed_from_workers_; }
  // The broker's metrics (broker_metrics.h): the core counts jobs; the loop records what only it
  // measures (a commit's duration, its sockets' counters) here too. They survive a RollBack.
  BrokerMetrics& metrics() { return metrics_; }
  // The rows the last EndTurn committed (jobs and audit rows), once; nullopt when it committed nothing.
  std::optional<int64_t> TakeCommitRows();
  // A worker-port message that did not decode (`what` says which and why): counted in
  // malformed_from_workers (STATS) and logged at a bounded rate per peer (LogLimiter). The caller answers
  // it (the node directly, dropped when the peer's queue is full: nothing of it waits in a backlog).
  void NoteMalformedFromWorker(const std::string& identity, const std::string& what, Instant now);

 private:
  struct Worker {
    std::string identity, name, host;
    int64_t pid = 0;
    int slots = 0;
    std::vector<std::string> capabilities;
    std::string volumes_dir;  // WORKER_READY.volumes_dir: where its volumes' directories are
    bool draining = false;
    int64_t last_seen = 0;  // monotonic: when it was last heard from
    std::set<std::string> running;
    std::string parent;      // the worker that started this one (auto-scaling); empty otherwise
    int64_t idle_since = 0;  // monotonic: when its last job ended (0: busy); retires idle child workers
    int64_t port = 0;        // its address port (WORKER_READY.port); 0: none. Such a worker was started
                             // by an operator and auto-scaling never retires it
    std::string principal;   // the key's principal it registered with (empty without CURVE)
    std::optional<wire::MachineStats> machine;  // its machine, as its last HEARTBEAT reported it
    std::optional<int64_t> session;             // its last WORKER_READY.session, echoed by WORKER_WELCOME
    // What it offers jobs beyond capabilities (WORKER_READY): the limits it enforces, how, its runtimes,
    // and its capacity for requests. What its runs hold of that capacity is Reserved(), never stored.
    std::vector<std::string> controls, runtimes;
    std::vector<wire::RuntimeInfo> runtime_info;  // WORKER_READY.runtime_info: size, packages of each
    std::string limits_via;
    Resources capacity;
  };
  struct Waiter {
    Route route;
    std::optional<int64_t> rid;
    std::string job_id;
    int64_t deadline = 0;  // monotonic
  };
  enum class TimerKind {
    kReady,
    kWaiter,
    kRecovery,
    kHeartbeat,
    kGateExpiry,
    kSchedule,
    kAuditPrune,
    kJournalPrune,
    kSpaceProbe
  };
  struct Schedule {
    std::string name, cron;
    std::string dag;  // the pipeline's own name: each fire's DAG is <dag>@<time> (empty: <name>@<time>)
    CronSpec spec;
    std::vector<wire::JobSpec> jobs;
    std::vector<wire::FileBlob> files;
    int64_t created_ms = 0;  // wall: ticks before this are not owed
    int64_t last_ms = 0;     // wall: last fire; created_ms until it first fires
    int64_t next_ms = 0;     // wall: the next cron tick (0: none)
    bool enabled = true;     // false: SCHEDULE_ENABLE disabled it; it keeps its definition and does not fire
    int64_t resumed_ms = 0;  // wall: when it was last enabled again; ticks before this are not owed
  };
  struct Timer {
    int64_t at;  // monotonic
    TimerKind kind;
    std::string key;
    // kReady, kGateExpiry: the run of job `key` it is for (a reused id's later run ignores it);
    // kWaiter: the waiter's key.
    int64_t run = 0;
    int64_t wall = 0;  // kGateExpiry, kSchedule: the wall-clock deadline it stands for (ArmWallTimer)
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  // Arms a timer for a wall-clock deadline (a gate's expiry, a cron tick): the one place where a wall
  // deadline becomes a monotonic one, `wall_deadline - now.wall_ms` from now (at once if past). When it
  // fires, the handler checks the wall clock has reached `wall_deadline` and, if the clock was set back
  // meanwhile, arms it again for what is left: such a deadline is never early by either clock.
  void ArmWallTimer(TimerKind kind, std::string key, int64_t run, int64_t wall_deadline, Instant now);
  // Whether a wall timer is due by the wall clock; if not (the clock was set back), re-arms it.
  bool WallDue(const Timer& t, Instant now);
  using QueueKey = std::tuple<int64_t, int64_t, std::string>;  // (-priority, seq, id)

  // Client dialog (core_clients.cc).
  // A request that only reads: its answer; nullopt for any other request.
  std::optional<wire::Message> Query(const wire::Message& req, Instant now) const;
  // A request that changes state (journaled at the end of the turn): its answer.
  // `principal`: the sender's, as OnClient got it (empty without CURVE).
  wire::Message Change(const wire::Message& req, Instant now, const std::string& principal);
  wire::Message Welcome() const;  // HELLO's answer
  // JOB_WAIT: answered now (the job ended, a service is up, or no wait asked) or when it ends or times out.
  void Wait(const Route& from, std::optional<int64_t> rid, const wire::JobWaitMsg& req, Instant now);
  wire::Message Submit(const wire::JobSubmitMsg& req, Instant now);
  // JOB_SUBMIT with `each` (core_submit_each.cc): each job submitted as Submit would a JOB_SUBMIT of it
  // alone.
  wire::Message SubmitEach(const wire::JobSubmitMsg& req, Instant now);
  // The content job `j` runs (j.file_hash): a file `sent` with it, else the artifact deployed by that name.
  std::optional<wire::Message> ResolveFile(Job& j, const std::unordered_map<std::string, std::string>& sent);
  wire::Message JobInfoReply(const std::string& id) const;
  wire::Message JobInfoReply(const Job* job, int64_t runs) const;
  wire::Message JobGet(const wire::JobGetMsg& req) const;
  wire::Message ListJobs(const wire::JobListMsg& req) const;  // core_job_list.cc
  // JOB_LIST once finished jobs may be in the journal only: the journal's rows, newest first.
  wire::Message ListJournaledJobs(const wire::JobListMsg& req, std::optional<JobState> filter,
                                  size_t limit) const;
  wire::Message ReadLogs(const wire::JobLogsMsg& req) const;
  wire::Message Stop(const std::string& id, Instant now);
  // SERVICE_RESTART: the service's worker is told to stop its process and start it again
  // (SERVICE_RESPAWN); the service is not ready until a new process is.
  wire::Message RestartService(const std::string& id, Instant now);
  wire::Message Stats(Instant now) const;
  // Metrics (core_metrics.cc): METRICS_GET's answer, and the counting of jobs as they move.
  wire::Message Metrics();
  std::string CapabilityLabel(const std::string& requirement);  // the bounded label of a requirement
  void CountSubmitted(const Job& job);
  void CountStarted(const Job& job);  // after Assign: its wait, when it is the run's first attempt
  void CountTransition(const Job& job, JobState from, JobState to, Instant now);
  // Bytes of artifacts in (an accepted chunk) and out (a read) of an ARTIFACT_* request and its reply.
  void CountArtifactBytes(const wire::Message& request, const wire::Message& reply);
  wire::Message StopWorker(const std::string& name, Instant now);
  void Reply(const Route& to, std::optional<int64_t> rid, wire::Message msg);
  // Replies `answer` to `request`, recording it in the audit log first when it is audited (AuditOf).
  void Answer(const Route& to, std::optional<int64_t> rid, const wire::Message& request, wire::Message answer,
              Instant now, const std::string& principal);
  // Splits a submission's hitl_message jobs into job + gate and points children at the gate.
  std::optional<wire::Message> InsertGates(std::vector<Job>& batch);
  // Each job whose parent has a gate (`gate_of`: job id -> gate id, or an earlier gate) waits on it.
  void PointChildrenAtGates(std::vector<Job>& batch, const std::map<std::string, std::string>& gate_of) const;

  // Idempotent submissions (core_tokens.cc). A JOB_SUBMIT or DAG_RERUN carrying a `token` this broker
  // accepted already (the DAG it made names it, in memory or in the journal) is answered with that
  // DAG's JOB_ACCEPTED again, and submits nothing: the answer, else nullopt (a new submission). A token
  // that is empty or too long, or that made a DAG without one of `jobs`' ids (a token reused for
  // another submission), is answered INVALID; a journal that cannot be read, UNAVAILABLE.
  std::optional<wire::Message> Replay(const std::string& token, const std::vector<wire::JobSpec>* jobs);
  // The DAG token `token` made, from memory or (retention) the journal into `scratch`; null: none.
  Result<const Dag*> DagOfToken(const std::string& token, Dag* scratch) const;

  // Submission (core_submit.cc): validation first (nothing changes on a refusal), then acceptance.
  std::optional<wire::Message> ParseJob(const wire::JobSpec& spec,
                                        const std::unordered_map<std::string, std::string>& files, Job* out);
  // INVALID when `id` names a job whose latest run is not final (the id may be reused otherwise).
  std::optional<wire::Message> CheckIdFree(const std::string& id, const char* what) const;
  // Parents as written ("DAG-x" or "x", the original Titan's two spellings) made canonical, then
  // checked to exist in the batch or among earlier jobs, and the batch checked for cycles.
  std::optional<wire::Message> LinkParents(std::vector<Job>& batch) const;
  wire::Message Accept(std::vector<Job> batch, const wire::JobSubmitMsg& req,
                       const std::unordered_map<std::string, std::string>& files, const std::string& dag_id,
                       Instant now);
  // Journals the content of the submission's files the broker did not have yet.
  Status JournalFiles(const std::vector<wire::FileBlob>& blobs,
                      const std::unordered_map<std::string, std::string>& files);
  // Numbers each job's run (a reused id's next) and lists the batch in its DAG record.
  void NumberRuns(std::vector<Job>& batch, Dag& record) const;
  // The batch becomes the latest runs of its ids, PENDING, owed to the journal as inserts.
  void Admit(std::vector<Job> batch, Instant now);
  // A new job's first state: linked to its parents, then skipped, blocked, delayed or queued.
  void PlaceNew(Job& job, Instant now);
  // The files of an accepted submission, named in perm_files (content-addressed, as if deployed).
  // Errors are logged: the jobs run from the journal's copy whatever perm_files holds.
  void StageFiles(const std::vector<wire::FileBlob>& blobs,
                  const std::unordered_map<std::string, std::string>& files, Instant now);
  // Moves the latest run of `id` (final) to history_, writing it first if the turn owes it.
  Status RetireRun(const std::string& id);

  // DAGs, agent runs and gates (core_dags.cc).
  std::string NewDagId(const std::string& name) const;
  // The run of job i that the DAG holds (from the journal into `scratch` once it left memory).
  const Job* DagJob(const Dag& dag, size_t i, Job* scratch) const;
  // Whether `gate` follows the latest run of job `id` (a gate left by an earlier run does not).
  bool GatesRun(const Job& gate, const std::string& id) const;
  wire::DagInfo RenderDag(const Dag& dag) const;
  wire::DagInfo RenderGroup(const std::string& id, const std::string& name, const std::string& run,
                            const std::vector<const Dag*>& dags) const;
  wire::Message DagList(const wire::DagListMsg& req) const;
  wire::Message DagGet(const std::string& id) const;
  wire::Message DagCancel(const std::string& id, Instant now);
  // `token`: DAG_RERUN.token (Replay).
  wire::Message DagRerun(const std::string& id, const std::optional<std::string>& token,
                         Instant now);  // core_dag_rerun.cc
  // JOB_DELETE (core_delete.cc): every run of a finished job submitted on its own, with its logs.
  wire::Message DeleteJob(const std::string& id);
  wire::Message RunList(const wire::RunListMsg& req) const;
  // The decision is recorded as the sender's `principal` when it has one (CURVE); the request's `by` is kept
  // beside it ("olivia (as ops-bot)") when it names someone else, and alone only without CURVE.
  wire::Message DecideGate(const wire::GateDecideMsg& req, Instant now, const std::string& principal);
  void OpenGate(Job& gate, Instant now);

  // Recurring schedules (core_schedules.cc).
  wire::Message ScheduleEnable(const wire::ScheduleEnableMsg& req, Instant now);
  wire::Message ScheduleAdd(const wire::ScheduleAddMsg& req, Instant now);
  // The refusal of a schedule's jobs: none, a file neither sent nor deployed, a parent outside the
  // schedule.
  std::optional<wire::Message> CheckScheduleJobs(const std::string& name,
                                                 const std::vector<wire::JobSpec>& jobs,
                                                 const std::vector<wire::FileBlob>& files);
  wire::Message ScheduleList() const;
  wire::Message ScheduleRemove(const std::string& name);
  void FireSchedule(Schedule& s, Instant now);
  void SaveSchedule(const Schedule& s);
  // A journaled schedule; the error says what is wrong with its definition (a corrupt row).
  static Result<Schedule> DecodeSchedule(std::string name, const std::string& definition, int64_t last_ms);
  // Arms a recovered schedule's next tick, or runs a tick missed while the broker was down once.
  void RestoreSchedule(Schedule s, Instant now);

  // Volumes (core_volumes.cc).
  wire::Message VolumeCreate(const wire::VolumeCreateMsg& req, Instant now);
  wire::Message VolumeList() const;
  wire::Message VolumeRemove(const std::string& name);
  // A journaled volume row; the error says what is wrong with it (a corrupt row).
  Status RestoreVolume(const std::string& name, const std::string& blob);
  wire::VolumeInfo RenderVolume(const wire::VolumeInfo& v) const;
  std::vector<std::string> VolumeUsers(const std::string& name) const;  // unfinished jobs naming it, sorted
  // `write` (a volume row) inside the turn's transaction; the UNAVAILABLE answer when the journal failed.
  std::optional<wire::Message> WriteVolumeRow(const std::function<Status()>& write);
  void SendVolumesTo(const Worker& w);  // VOLUME_ENSURE with every volume `w` holds (none: nothing sent)
  // The refusal of a job whose volumes do not exist or are on different workers; nullopt when fine.
  std::optional<wire::Message> CheckJobVolumes(const wire::JobSpec& spec) const;
  // The worker holding the job's volumes: it runs only there. Empty: it names none.
  std::string VolumeWorker(const Job& job) const;

  // Worker dialog (core_workers.cc).
  // Decodes a worker's message as T and hands it to `handle` with the worker that sent it; a message
  // that does not decode is refused (RefuseFromWorker), one from an unknown worker answered DISCONNECT.
  template <class T, class Handle>
  void FromWorker(const std::string& identity, const wire::Message& msg, Instant now,
                  std::optional<int64_t> rid, Handle handle);
  // True when a line about the worker peer `identity` may be logged now (LogLimiter), after logging
  // how many lines about it were withheld, if any.
  bool AdmitWorkerLog(const std::string& identity, Instant now);
  // A worker's message that does not decode into its struct: noted (NoteMalformedFromWorker) and
  // answered `error`.
  void RefuseFromWorker(const std::string& identity, const std::string& what, wire::Message error,
                        std::optional<int64_t> rid, Instant now);
  // The registered worker behind `identity`, now seen; null (it was answered DISCONNECT) when unknown.
  Worker* Sender(const std::string& identity, Instant now);
  void RegisterWorker(const std::string& identity, const wire::WorkerReadyMsg& msg, Instant now,
                      const std::string& principal);
  // The worker record of a WORKER_READY: new, or refreshed (a worker back on a new connection).
  Worker& UpdateWorker(const std::string& identity, const wire::WorkerReadyMsg& msg, Instant now);
  // What the broker believes of the latest run of `job`, for Reconcile (`reporter`: the worker asking).
  BelievedRun Believe(const Job& job, const std::string& reporter) const;
  ReconcileInput ReconcileSnapshot(const std::string& name, const wire::WorkerReadyMsg& ready) const;
  // Carries out one reconciliation decision; `result`: the reported result it is about, if any.
  void CarryOut(Worker& w, const Decision& d, const wire::JobResult* result, Instant now);
  void SendWelcome(const Worker& w);
  void StartDraining(Worker& w, Instant now);  // it said it is shutting down: no new jobs
  void JobDone(Worker& w, const wire::JobResult& r, Instant now);
  // Acknowledges a result of `w` with this turn's other acknowledgements to it (FlushAcks).
  void AckResult(const Worker& w, const std::string& id, int64_t attempt);
  // The turn's acknowledgements, into the outbox: one JOB_ACK per worker (more of them only past
  // kAcksPerMessage or kAckBytesPerMessage, so each stays far below the body limit).
  void FlushAcks();
  // A report of `w` refused for its older lease epoch (Decision::stale_epoch): counted and logged.
  void CountStaleEpoch(const Worker& w, const Decision& d);
  // The result of the run the broker expects on `w`: completed, failed (maybe retried), cancelled.
  void ApplyResult(Worker& w, Job& job, const wire::JobResult& r, Instant now);
  void JobLog(Worker& w, wire::JobLogMsg msg, Instant now);
  void ServiceStatus(Worker& w, const wire::ServiceStatusMsg& msg, Instant now);
  // The worker is gone: its runs are requeued (`count_loss`: as a loss of each job, max_lost applies).
  void LoseWorker(const std::string& name, const std::string& why, Instant now, bool count_loss = true);
  void SendWorker(const Worker& w, wire::Message msg);
  void PublishWorker(const Worker& w, const char* event, Instant now);
  wire::WorkerInfo RenderWorker(const Worker& w, Instant now) const;
  // WorkerInfo's capacity, reserved, controls, limits_via and runtimes.
  void AddPlacementInfo(const Worker& w, wire::WorkerInfo* info) const;
  Worker* WorkerByIdentity(const std::string& identity);

  // Auto-scaling (core_scaling.cc), and WORKER_ADD: a worker on this machine starts another.
  void Autoscale(Instant now);
  std::vector<ScaleWorker> ScaleWorkers() const;  // the worker table, as DecideScaling takes it
  std::vector<ScaleWait> ScaleWaits() const;      // each requirement's longest-queued job, oldest first
  void CarryOutScaling(const ScaleAction& a, Instant now);
  wire::Message AddWorker(const wire::WorkerAddMsg& req, Instant now);
  void RecordScaling(const char* action, const ScaleAction& a, Instant now);

  // Writes each job changed this turn once (its state now) and the turn's audit rows, then commits
  // (one fsync); a failed turn's transaction is rolled back and its audit rows kept (core_jobs.cc).
  Status CommitTurn();

  // Read-only mode (core_read_only.cc).
  // The turn failed to commit for lack of space: everything it did is undone by reloading the last
  // committed state from the journal (as a restart would: workers register again), its client replies
  // and every waiting JOB_WAIT become UNAVAILABLE, and the broker turns read-only. `audit`: the turn's
  // audit rows, kept with outcome UNAVAILABLE. An error: the journal cannot be read back.
  Status RollBack(const Status& failure, std::vector<wire::AuditEntry> audit, Instant now);
  // A journal write made during the turn (not by CommitTurn) failed with `s`: when for lack of space,
  // the whole turn is rolled back at its end, as a failed commit is.
  void JournalFailed(const Status& s);
  // A write failed for lack of space (`cause` names the file): read-only from now (once), probing soon.
  void EnterReadOnly(const Status& cause, Instant now);
  void LeaveReadOnly(Instant now);
  void ProbeSpace(Instant now);  // the kSpaceProbe timer
  // While read-only: a timer whose step would change journaled state waits (true) until writable.
  bool DeferWhileReadOnly(const Timer& t);
  // While read-only: what worker `w` reported would change journaled state (a result, a service's
  // status, a run to requeue or adopt back): left unacknowledged, and `w` is asked to register again
  // once writable, which reports it again.
  void ResyncLater(const Worker& w);
  // Some of job `job`'s output could not be stored (`why`): the job says so; a full disk also makes
  // the broker read-only.
  void LogLost(Job& job, const Status& why, Instant now);
  // While read-only, audit rows wait (at most kMaxDeferredAudit) for the journal.
  void DeferAudit(std::vector<wire::AuditEntry> rows);

  // Timers (core_timers.cc): one step per kind.
  void FireTimer(const Timer& t, Instant now);
  void ExpireWaiter(int64_t key);  // JOB_WAIT's timeout: reply with the job as it is
  void EndRecoveryGrace(Instant now);
  void ExpireGate(const Timer& t, Instant now);
  void CheckHeartbeats(Instant now);
  // Liveness counts only time the broker was running: when this tick comes much later than the loop
  // can sleep (a SIGSTOP, a stall), every worker's last_seen moves forward by the gap, so a worker is
  // never declared lost for heartbeats the broker was not there to read.
  void DiscountStall(Instant now);
  // Deletes audit rows past config_.audit_retention_ms (in the turn's transaction); again in an hour.
  void PruneAudit(Instant now);

  // Retention (core_retention.cc).
  bool Retaining() const { return config_.retain_finished_ms > 0 || config_.retain_finished_count > 0; }
  // Keeps the counters of a job that moved `from` -> `to` (STATS) and, when it became final, its DAG's
  // count of live jobs: a DAG with none left joins the queue of finished DAGs.
  void Count(const Job& job, JobState from, JobState to, Instant now);
  // Queues DAG `id` (all its jobs final) to leave memory, finished at `at` (monotonic).
  void QueueFinished(const std::string& id, int64_t at);
  // Evicts the finished DAGs due by age or over the count, oldest first (at most a batch per turn).
  void Retain(Instant now);
  // Drops a finished DAG and its job runs from memory (a run owed to the journal is written first).
  void EvictDag(const std::string& id);
  // Forgets the entries of order_ and dag_order_ whose job or DAG left memory, once they are half.
  void CompactOrders();
  // After Recover: each DAG's live count; the finished ones queued, oldest first.
  void QueueRecoveredDags(Instant now);
  // Deletes a batch of jobs (whole submissions, with their logs and DAG rows) that ended before
  // journal_retention_ms ago; again at once while there is more, else in a minute.
  void PruneJournal(Instant now);
  // Deletes the submission rows[begin, end) (its jobs rows, their logs, its DAG row) when every job of
  // it is final and none is in memory; otherwise leaves it.
  Status PruneSubmission(const std::vector<Journal::JobRow>& rows, size_t begin, size_t end);
  // The latest of the submission's submission time and its final jobs' end times (wall): it may leave
  // the journal once that is journal_retention_ms ago.
  static int64_t YoungestEnd(const std::vector<Journal::JobRow>& rows, size_t begin, size_t end);
  // Job `id` (a "DAG-" prefix resolved), run `run` (0: the latest), from memory or, once it left
  // memory, from the journal into `scratch`; null when neither has it.
  const Job* LookUp(const std::string& id, int64_t run, Job* scratch) const;
  // DAG `id` from memory or the journal (into `scratch`); null when neither has it.
  const Dag* LookUpDag(const std::string& id, Dag* scratch) const;

  // Lifecycle (core_jobs.cc).
  void MakeReady(Job& job, Instant now, bool apply_delay);
  void Enqueue(Job& job, Instant now);
  void Assign(Job& job, Worker& w, Instant now);
  void Finish(Job& job, JobState state, std::string reason, Instant now);
  void Fail(Job& job, std::string reason, Instant now);
  // Back to QUEUED for another worker; `count_loss`: its worker died under it (max_lost applies).
  void Requeue(Job& job, std::string reason, Instant now, bool count_loss = true);
  // The run of `job` is gone with its worker (lost, fenced, not back after a restart): a job whose stop
  // was asked ends CANCELLED (never requeued), one asking on_worker_lost "fail" ends FAILED, any other
  // is requeued (Requeue; `count_loss` as there).
  void LoseRun(Job& job, const std::string& why, Instant now, bool count_loss = true);
  // Children blocked on `job` stop waiting for it (it COMPLETED, or it is a service now ready).
  void ReleaseChildren(Job& job, Instant now);
  void SkipDescendants(const Job& job, Instant now);
  // Recovery (core_recover.cc). A journaled job becomes the latest run of its id (an earlier one moves
  // to history_), linked to its parents' runs as submitted (`runs`: each id's latest run so far).
  void AddRecoveredJob(Job job, std::unordered_map<std::string, int64_t>& runs);
  // Links every recovered job to its parents and resumes each latest run; returns how many were RUNNING.
  size_t ResumeRecovered(Instant now);
  void LinkRecoveredParents(Job& job);
  // A recovered latest run re-enters its queue or timer; true when it was RUNNING (its worker has
  // recovery_grace_ms to come back with it).
  bool RecoverState(Job& job, Instant now);
  // The worker a job with affinity prefers: its first parent's (the run it was linked to), else the
  // worker of the job that submitted it (spawned_by); "" for none.
  std::string AffinityAnchor(const Job& job) const;
  // A job of a DAG (more than one job, or any parent): it runs in the worker's shared folder.
  bool InDag(const Job& job) const;
  // Moves the job to `state`, records it for the journal and publishes it. An illegal step (the table
  // of CanTransition) is our bug: asserted in debug builds; in release it is logged, counted
  // (refused_transitions) and refused, the job keeping its state. Returns whether it moved.
  bool Transition(Job& job, JobState state, Instant now);
  // Whether `job` may go to `to`; logs, counts and asserts as Transition does when it may not.
  bool Allowed(const Job& job, JobState to);
  // Marks the job's mutable fields for the journal; CommitTurn writes each marked job once.
  void Record(Job& job);
  // Writes the jobs and audit rows the turn owes into the open transaction (CommitTurn clears both lists).
  Status WriteOwed();
  void Publish(const Job& job, Instant now);
  void WakeWaiters(const Job& job);
  bool FileInUse(const std::string& sha256) const;  // a job not yet final runs this content
  // An ARTIFACT_* request of a client (ArtifactService decodes and answers it).
  wire::Message HandleArtifact(const wire::Message& req, Instant now);
  // A worker's ARTIFACT_READ of a job's file it does not have yet.
  wire::Message ReadArtifact(const wire::ArtifactReadMsg& req, Instant now);
  // The latest run of job `id` ("DAG-<id>" finds <id>); null when unknown.
  Job* Resolve(const std::string& id);
  const Job* Resolve(const std::string& id) const;
  // Run `run` (1-based) of job `id` exactly; null when there is no such run.
  Job* FindRun(const std::string& id, int64_t run);
  const Job* FindRun(const std::string& id, int64_t run) const;
  // The seq of order_[i], or of the nearest earlier entry whose job is in memory (0: none); core_job_list.cc.
  int64_t OrderedSeq(size_t i) const;
  // Whether a service counts as done for its DAG: it became ready once (its children were released).
  static bool DoneForDag(const Job& job);
  // A QUEUED job that no live worker could ever run: why and what to do (WhyNever); else its reason.
  std::string QueuedReason(const Job& job) const;
  bool AnyWorkerCan(const std::string& requirement) const;
  // Placement (core_dispatch.cc). The requests of the runs on `w` (a sum over them: it cannot drift from
  // what runs there, through ends, requeues, losses and adoptions after a restart).
  Resources Reserved(const Worker& w) const;
  // The worker table as PickWorker takes it; `refs` (if not null) gets the record of each row.
  std::vector<WorkerSlot> WorkerTable(std::vector<Worker*>* refs) const;
  // The job's demand, with the worker it is pinned to (PinnedWorker).
  Demand DemandOf(const Job& job) const;
  // The one worker the job must run on ("" any): the hook for constraints such as volumes.
  std::string PinnedWorker(const Job& job) const;
  // Places the jobs of one requirement's queue (bounded look-ahead: see kLookAhead); false when the
  // turn's assignment budget ran out first.
  bool DispatchQueue(const std::string& requirement, std::set<QueueKey>& queue,
                     std::vector<WorkerSlot>& table, const std::vector<Worker*>& refs, int& budget,
                     Instant now);

  CoreConfig config_;
  Journal* journal_;
  LogStore* logs_;
  ArtifactService* artifacts_;
  std::unordered_map<std::string, Job> jobs_;  // the latest run of each id
  // Earlier runs of reused ids by run (all final; retention may have dropped some).
  std::unordered_map<std::string, std::map<int64_t, Job>> history_;
  std::vector<std::string> owed_;                       // ids of jobs with a journal write owed this turn
  std::vector<wire::AuditEntry> audit_owed_;            // audit rows of this turn, written by CommitTurn
  std::vector<std::pair<std::string, int64_t>> order_;  // (id, run) of every job in submission order
  std::map<std::string, Dag> dags_;                     // by id
  // Dag::token -> DAG id, for the DAGs in dags_ that have one (core_tokens.cc).
  std::unordered_map<std::string, std::string> tokens_;
  std::vector<std::string> dag_order_;
  std::map<std::string, Schedule> schedules_;
  std::map<std::string, wire::VolumeInfo> volumes_;  // by name; path and jobs are derived (RenderVolume)
  std::unordered_map<std::string, std::shared_ptr<const std::string>> files_;  // hash -> content
  // The SHA-256 of inline content seen before, by a fast fingerprint: a client resubmitting the same
  // script pays a memcmp instead of a SHA-256. A hit counts only when files_ holds equal bytes.
  std::unordered_map<uint64_t, std::string> sha_by_fingerprint_;
  std::string ContentHash(std::string_view content);
  // Fills name -> SHA-256 for the FileBlobs of a submission: hashed content, or a sha256 the broker
  // already holds. The error reply when one names an unknown hash (NOT_FOUND) or is malformed.
  std::optional<wire::Message> HashFiles(const std::vector<wire::FileBlob>& blobs,
                                         std::unordered_map<std::string, std::string>* files);
  std::map<std::string, Worker> workers_;                      // by name
  std::unordered_map<std::string, std::string> worker_names_;  // identity -> name
  std::map<std::string, std::set<QueueKey>> ready_;            // by requirement
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::unordered_map<int64_t, Waiter> waiters_;
  std::unordered_multimap<std::string, int64_t> waiters_by_job_;
  int64_t next_waiter_ = 1;
  std::vector<ScalePending> scale_pending_;    // WORKER_SPAWNs whose child has not joined yet
  std::deque<wire::ScaleEvent> scale_events_;  // recent ones, oldest first
  int64_t next_child_ = 1;
  int64_t next_scale_check_ = 0;
  int64_t last_tick_ = 0;          // monotonic: the last OnTick (DiscountStall); 0: none yet
  int64_t upload_deadline_ = 0;    // when an open upload may next expire; 0: none open
  bool dispatch_pending_ = false;  // Dispatch stopped at its per-turn budget
  int64_t next_seq_ = 1;
  int64_t refused_transitions_ = 0;
  int64_t malformed_from_workers_ = 0;
  BrokerMetrics metrics_;
  std::optional<int64_t> commit_rows_;  // CommitTurn: the rows of the turn's commit, for TakeCommitRows
  int64_t start_wall_ms_ = 0;           // the first Recover: when this broker started (metrics)
  int64_t counts_[kStateCount] = {};    // runs in each state, memory and journal (STATS)
  int64_t in_memory_ = 0;               // runs in jobs_ and history_
  // Retention: finished DAGs in the order they finished (`at`, monotonic), the jobs they hold, and the
  // entries of order_ / dag_order_ left by evicted ones.
  struct Finished {
    std::string dag;
    int64_t at = 0;
    int64_t jobs = 0;
  };
  std::deque<Finished> finished_;
  int64_t finished_jobs_ = 0;
  int64_t evicted_ = 0;          // runs evicted since start
  bool retain_pending_ = false;  // Retain stopped at its per-turn batch
  size_t stale_order_ = 0, stale_dags_ = 0;
  int64_t prune_after_ = 0;      // journal retention scans on from the row after this seq
  LogLimiter worker_log_limit_;  // warnings about each worker peer's bad messages
  std::vector<Outgoing> outbox_;
  // This turn's result acknowledgements, by worker identity, in order; sent by TakeOutbox (FlushAcks).
  // A turn rolled back drops them with the rest of the core: an unrecorded result is never acknowledged.
  std::map<std::string, std::vector<wire::JobRef>> acks_;
  // Read-only mode (a full disk): the timers, workers and audit rows that wait for the journal. Bounded:
  // timers by those armed (each waits once), workers by the worker table, audit rows by kMaxDeferredAudit.
  ReadOnlyMode read_only_{"broker"};
  std::vector<Timer> deferred_timers_;
  std::set<std::string> resync_;  // names of workers to ask for WORKER_READY once writable
  std::vector<wire::AuditEntry> deferred_audit_;
  int64_t dropped_audit_ = 0;  // audit rows past kMaxDeferredAudit: lost, and logged as such
  Status space_failure_;       // JournalFailed: this turn's journal write that found the disk full
};

}  // namespace titan::broker
