// The broker's event loop: client ROUTER, worker ROUTER, event PUB and a signalfd on one thread.
//
// Each turn drains what the sockets hold (bounded per turn), lets BrokerCore apply it, fires due
// timers, dispatches, commits the journal (one fsync for the whole turn), and only then sends the
// replies, assignments and events the turn produced. On PostgreSQL the commit is pipelined: the turn's
// transaction is sent, its messages are held (HeldTurns) and the loop goes on; they leave when the
// server confirms the commit (its socket is in the poll set).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>

#include "base/clock.h"
#include "base/pg_db.h"
#include "base/signal_watch.h"
#include "broker/broker.h"
#include "broker/broker_core.h"
#include "broker/held_turns.h"
#include "broker/lease_core.h"
#include "broker/standby_core.h"
#include "schemas/cpp/transport.h"
#include "security/server_security.h"

namespace titan::broker {
namespace {

constexpr size_t kMaxPerTurn = 1024;
constexpr size_t kClockEvery = 64;  // messages read between two looks at the drain budget

Route ToRoute(const std::vector<zmq::message_t>& envelope) {
  Route r;
  for (const auto& f : envelope) r.emplace_back(static_cast<const char*>(f.data()), f.size());
  return r;
}

enum class Sent { kOk, kFull, kGone };

// Sends head frames then `msg`. kFull: the peer's queue is at its high-water mark (nothing was sent;
// try again later). kGone: the peer is not connected (ROUTER_MANDATORY).
Sent SendFrames(zmq::socket_t& sock, const std::vector<std::string>& head, const wire::Message& msg) {
  std::vector<std::string> frames = wire::Encode(msg);
  try {
    bool first = true;
    auto send = [&](const std::string& f, bool more) {
      auto flags = more ? zmq::send_flags::sndmore : zmq::send_flags::none;
      if (first) flags = flags | zmq::send_flags::dontwait;  // later frames of an accepted message go through
      first = false;
      return sock.send(zmq::buffer(f), flags).has_value();
    };
    for (const auto& h : head) {
      if (!send(h, true)) return Sent::kFull;
    }
    for (size_t i = 0; i < frames.size(); ++i) {
      if (!send(frames[i], i + 1 < frames.size())) return Sent::kFull;
    }
    return Sent::kOk;
  } catch (const zmq::error_t& e) {
    return e.num() == EAGAIN ? Sent::kFull : Sent::kGone;
  }
}

struct Sockets {
  zmq::context_t ctx{1};
  std::unique_ptr<security::ServerSecurity> security;  // its ZAP socket is bound before the others
  zmq::socket_t clients{ctx, zmq::socket_type::router};
  zmq::socket_t workers{ctx, zmq::socket_type::router};
  zmq::socket_t events{ctx, zmq::socket_type::pub};
};

// What the loop counts at its sockets is kept in the core's metrics (METRICS shows it); each step takes
// it from the core afresh, since a turn's rollback rebuilds the core.
using Counters = metrics::NodeCounters;

// Messages for workers whose queue was full, in order, per worker identity: retried every turn so
// an assignment or an acknowledgement is delayed, never lost.
using Backlog = std::map<std::string, std::deque<wire::Message>>;

int Bind(zmq::socket_t& s, const std::string& bind, int port, const char* what) {
  const std::string ep = "tcp://" + bind + ":" + (port ? std::to_string(port) : "*");
  try {
    s.bind(ep);
  } catch (const zmq::error_t& e) {
    spdlog::error("broker: cannot listen for {} on {}: {} (choose another port)", what, ep, e.what());
    return -1;
  }
  return wire::BoundPort(s);
}

// Reads up to kMaxPerTurn client requests into the core, stopping early once the monotonic clock
// passes `until` (at least kClockEvery are read when waiting, so neither socket starves); returns how many.
size_t DrainClients(Sockets& s, BrokerCore& core, int64_t until) {
  Counters& c = core.metrics().node;
  size_t n = 0;
  for (; n < kMaxPerTurn && (n == 0 || n % kClockEvery != 0 || MonoMs() < until); ++n) {
    wire::Incoming in;
    if (!wire::RecvFromRouter(s.clients, &in, true)) return n;
    const wire::Decoded d = wire::DecodeIncoming(in);
    if (d.status != wire::DecodeStatus::kOk) {
      ++c.malformed_clients;
      wire::SendTo(s.clients, in.envelope, WithRid(wire::MakeError(d.error_code(), d.reason), d.rid));
      continue;
    }
    if (Status allowed = s.security->Authorize(in.user_id, wire::SpecOf(d.msg.type)); !allowed.ok()) {
      ++c.forbidden;
      core.OnRefused(ToRoute(in.envelope), d.rid, d.msg, allowed, Now(),
                     in.user_id);  // audited, then answered
      continue;
    }
    core.OnClient(ToRoute(in.envelope), d.rid, d.msg, Now(), in.user_id);
  }
  return n;
}

// Reads up to kMaxPerTurn worker messages into the core, stopping early once the monotonic clock
// passes `until` (at least kClockEvery are read when waiting, so neither socket starves); returns how many.
size_t DrainWorkers(Sockets& s, BrokerCore& core, int64_t until) {
  size_t n = 0;
  for (; n < kMaxPerTurn && (n == 0 || n % kClockEvery != 0 || MonoMs() < until); ++n) {
    wire::Incoming in;
    if (!wire::RecvFromRouter(s.workers, &in, true)) return n;
    const wire::Decoded d = wire::DecodeIncoming(in);
    const std::string identity(static_cast<const char*>(in.envelope.front().data()),
                               in.envelope.front().size());
    if (d.status != wire::DecodeStatus::kOk) {
      core.NoteMalformedFromWorker(identity, "a bad message (" + d.reason + ")", Now());  // counted, logged
      wire::SendTo(s.workers, in.envelope, wire::MakeError(d.error_code(), d.reason));
      continue;
    }
    if (Status allowed = s.security->AuthorizeWorker(in.user_id); !allowed.ok()) {
      ++core.metrics().node.forbidden;
      wire::SendTo(s.workers, in.envelope, WithRid(wire::MakeError(allowed), d.rid));
      continue;
    }
    core.OnWorker(identity, d.msg, Now(), d.rid, in.user_id);
  }
  return n;
}

void DrainBacklog(Sockets& s, Backlog& backlog, Counters& c) {
  for (auto it = backlog.begin(); it != backlog.end();) {
    auto& queue = it->second;
    while (!queue.empty()) {
      const Sent r = SendFrames(s.workers, {it->first}, queue.front());
      if (r == Sent::kFull) break;
      if (r == Sent::kGone) {
        c.undeliverable += queue.size();
        queue.clear();
        break;
      }
      queue.pop_front();
    }
    it = queue.empty() ? backlog.erase(it) : std::next(it);
  }
}

// Job credentials follow the core's own messages: each JOB_ASSIGN gets a fresh one (with CURVE on), and
// the job's leaving RUNNING (its EVENT_JOB) revokes it.
void FollowJobCredentials(security::ServerSecurity& security, Outgoing& out) {
  if (!security.curve()) return;
  if (out.kind == Outgoing::kWorker && out.msg.type == MsgType::kJobAssign) {
    const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(out.msg);
    if (!assign.ok()) return;
    if (auto credential = security.MintJobCredential(assign->job.id)) {
      out.msg.Set("credential", credential->ToDatum());
    }
  } else if (out.kind == Outgoing::kEvent && out.msg.type == MsgType::kEventJob) {
    const Result<wire::EventJobMsg> event = wire::EventJobMsg::From(out.msg);
    if (event.ok() && event->state != "RUNNING") security.DropJobCredential(event->id);
  }
}

// Sends `outbox` (messages whose turns are durable), after what waits in the backlog.
void Flush(Sockets& s, BrokerCore& core, Backlog& backlog, std::vector<Outgoing> outbox) {
  Counters& c = core.metrics().node;
  DrainBacklog(s, backlog, c);
  for (Outgoing& out : outbox) FollowJobCredentials(*s.security, out);
  s.security->SaveJobCredentials();  // before the assignments leave: the store learns the keys first
  for (Outgoing& out : outbox) {
    switch (out.kind) {
      case Outgoing::kClient:
        if (SendFrames(s.clients, out.route, out.msg) != Sent::kOk)
          ++c.undeliverable;  // the client will time out
        break;
      case Outgoing::kWorker: {
        auto waiting = backlog.find(out.identity);
        if (waiting != backlog.end()) {
          waiting->second.push_back(std::move(out.msg));  // keep the order of messages to one worker
          break;
        }
        const Sent r = SendFrames(s.workers, {out.identity}, out.msg);
        if (r == Sent::kFull) backlog[out.identity].push_back(std::move(out.msg));
        if (r == Sent::kGone) ++c.undeliverable;
        break;
      }
      case Outgoing::kEvent:
        (void)SendFrames(s.events, {out.topic}, out.msg);
        break;  // PUB drops for slow subscribers
    }
  }
}

CoreConfig MakeConfig(const BrokerOptions& o) {
  CoreConfig config;
  config.heartbeat_ms = o.heartbeat_ms;
  config.liveness = o.liveness;
  config.recovery_grace_ms = o.recovery_grace_ms;
  config.store_port = o.store_port;
  config.store_host = o.store_host;
  config.scaling.max_children = o.autoscale_max;
  config.scaling.min_children = o.autoscale_min;
  config.scaling.wait_ms = o.scale_wait_ms;
  config.scaling.cooldown_ms = o.scale_cooldown_ms;
  config.salvage = o.salvage;
  config.audit_retention_ms = o.audit_retention_days * 86'400'000;
  config.retain_finished_ms = o.retain_finished_s * 1000;
  config.retain_finished_count = o.retain_finished_count;
  config.journal_retention_ms = static_cast<int64_t>(o.journal_retention_days * 86'400'000.0);
  if (config.journal_retention_ms > 0 && config.retain_finished_ms > config.journal_retention_ms) {
    spdlog::warn(
        "broker: --retain-finished-s ({} s) is longer than --journal-retention-days: a finished job "
        "is deleted from the journal while still in memory and is gone after a restart; lower "
        "--retain-finished-s or raise --journal-retention-days",
        o.retain_finished_s);
  }
  char hostname[256] = {};  // as workers report theirs (WORKER_READY.host); WORKER_ADD looks for one here
  if (gethostname(hostname, sizeof hostname - 1) == 0) config.host = hostname;
  return config;
}

// Binds the client socket (a standby answers on it while it waits for the lease): the port chosen, or
// -1 (logged, naming the port).
int BindClients(Sockets& s, const BrokerOptions& o) {
  wire::ConfigureSocket(s.clients);
  s.clients.set(zmq::sockopt::router_mandatory, 1);
  s.security->Secure(s.clients, security::kClientDomain);
  return Bind(s.clients, o.bind, o.port, "clients");
}

// Binds the worker and event sockets; fills the ports chosen into `config`. False: one failed (logged,
// naming the port).
bool BindSockets(Sockets& s, const BrokerOptions& o, CoreConfig& config) {
  for (zmq::socket_t* sock : {&s.workers, &s.events}) wire::ConfigureSocket(*sock);
  s.workers.set(zmq::sockopt::router_mandatory, 1);
  s.events.set(zmq::sockopt::sndhwm, 100000);
  s.security->Secure(s.workers, security::kWorkerDomain);
  s.security->Secure(s.events, security::kEventsDomain);
  config.worker_port = Bind(s.workers, o.bind, o.worker_port, "workers");
  config.pub_port = Bind(s.events, o.bind, o.pub_port, "events");
  return config.worker_port >= 0 && config.pub_port >= 0;
}

// The client address this broker records in the lease (--advertise, else --bind and the client port;
// the hostname for a wildcard --bind).
std::string Advertised(const BrokerOptions& o, int client_port) {
  if (!o.advertise.empty()) return o.advertise;
  std::string host = o.bind;
  if (host == "0.0.0.0" || host == "*" || host == "::") {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0) host = name;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(client_port);
}

// The data directory and its journal. False: logged, with what to do.
bool OpenJournal(const BrokerOptions& o, Journal& journal) {
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) {
    spdlog::error("broker: cannot create data directory '{}': {}", o.dir, ec.message());
    return false;
  }
  if (pg::IsUri(o.journal) && o.journal_sync != "full") {
    spdlog::error(
        "broker: --journal-sync {} applies to the SQLite journal; with a PostgreSQL journal set "
        "synchronous_commit on the server (or the role) instead, and leave --journal-sync out",
        o.journal_sync);
    return false;
  }
  const Status st = pg::IsUri(o.journal) ? journal.OpenPostgres(o.journal, o.dir)
                    : o.journal.empty()
                        ? journal.Open(o.dir + "/broker.db", /*fsync_commits=*/o.journal_sync == "full")
                        : Status::Invalid("--journal '" + pg::Redacted(o.journal) +
                                          "' is not a postgresql:// URI; leave it out to keep "
                                          "the journal in " +
                                          o.dir + "/broker.db");
  if (!st.ok()) {
    spdlog::error("broker: cannot open the journal: {}", st.message());
    return false;
  }
  if (o.journal_sync != "full") {
    spdlog::warn(
        "broker: --journal-sync {}: journal commits go to the OS, not to disk: acknowledged state survives "
        "kill -9 of the broker, not a power loss or a kernel crash",
        o.journal_sync);
  }
  return true;
}

// The lease of a PostgreSQL journal, kept by the loop: null on SQLite.
struct LeaseKeeper {
  Journal* journal;
  LeaseCore lease;
};

// The journal's pipelined commits (PostgreSQL with BrokerOptions::journal_commits_in_flight > 0): its
// connection, and the messages of the turns whose commits are not confirmed yet. Null otherwise.
struct Pipeline {
  pg::Db* db;
  HeldTurns held;
};

// Whether the lease is surely still this broker's now: when its last renewal is too old for that (a long
// turn), a renewal now says (it finds the epoch unchanged: no other broker took over).
bool LeaseStillOurs(LeaseKeeper& k) {
  if (k.lease.MayAcknowledge(MonoMs())) return true;
  const int64_t sent = MonoMs();
  bool held = false;
  const Status st = k.journal->RenewLease(k.lease.epoch(), k.lease.ttl_ms(), &held);
  if (!st.ok() || !held) return false;
  k.lease.Renewed(sent);
  return true;
}

// Reads the commit outcomes the server sent (without waiting) into `pipe.held`. False: a commit failed,
// or was confirmed when the lease may have lapsed: nothing held will be sent, the broker must stop.
bool Confirm(Pipeline& pipe, BrokerCore& core, LeaseKeeper* lease) {
  std::vector<pg::Db::Outcome> done;
  pipe.db->Pump(&done);
  for (const pg::Db::Outcome& o : done) {
    const bool lease_valid = lease == nullptr || !o.status.ok() || LeaseStillOurs(*lease);
    if (pipe.held.Confirm(o.ticket, o.status.ok(), lease_valid)) {
      core.metrics().commit_us.Observe(metrics::MonoUs() - o.sent_us);
      continue;
    }
    if (!o.status.ok()) {
      spdlog::critical(
          "broker: journal commit failed ({}); stopping: nothing of that turn or of the turns after it was "
          "sent, a restart recovers{}",
          o.status.message(),
          IsOutOfSpace(o.status) ? " (read-only while the database's disk stays full)" : "");
    } else {
      spdlog::critical(
          "broker: a journal commit was confirmed after the lease (epoch {}) lapsed (it cannot be renewed); "
          "stopping without sending what it made durable",
          lease->lease.epoch());
    }
    return false;
  }
  return true;
}

// Before a turn: while too much is held, waits for the oldest commit, sending what it releases.
bool WaitWhileFull(Sockets& s, BrokerCore& core, Backlog& backlog, Pipeline& pipe, LeaseKeeper* lease) {
  while (pipe.held.full() && pipe.db->awaiting()) {
    pipe.db->AwaitOne();
    if (!Confirm(pipe, core, lease)) return false;
    Flush(s, core, backlog, pipe.held.TakeReleasable());
  }
  return true;
}

// One loop turn after poll: the sockets drained into the core, timers fired, the journal committed,
// then what the turn produced sent (pipelined: held until its commit is confirmed). A commit that fails for
// lack of space is rolled back by the core, which then answers the turn's requests UNAVAILABLE and stays
// read-only until space returns. False: the commit failed for another reason and the broker must stop. What
// is waiting is read before timers run, whatever poll reported, for at most half a heartbeat: a flood of
// input must not hold back the heartbeats that renew the workers' leases. What is left is read on the next
// turn, which begins at once. (After the broker itself was stopped, liveness is judged fairly anyway:
// BrokerCore discounts the gap.)
bool Turn(Sockets& s, BrokerCore& core, Backlog& backlog, int heartbeat_ms, Pipeline* pipe,
          LeaseKeeper* lease) {
  constexpr int kMaxRounds = 8;
  if (pipe != nullptr) {
    if (!WaitWhileFull(s, core, backlog, *pipe, lease)) return false;
    // Commits confirmed while the loop was away release their messages before this turn's work.
    if (!Confirm(*pipe, core, lease)) return false;
    if (std::vector<Outgoing> early = pipe->held.TakeReleasable(); !early.empty())
      Flush(s, core, backlog, std::move(early));
  }
  const bool overlapped = pipe != nullptr && pipe->db->awaiting();  // an earlier turn's commit in flight
  const int64_t start = MonoMs();
  const int64_t until = start + std::max(1, heartbeat_ms / 2);
  for (int round = 0; round < kMaxRounds && MonoMs() < until; ++round) {
    const size_t read = DrainWorkers(s, core, until) + DrainClients(s, core, until);
    if (read == 0) break;
  }
  const int64_t drained = MonoMs();
  core.OnTick(Now());
  const int64_t ticked = MonoMs();
  const int64_t commit_start_us = metrics::MonoUs();
  if (Status st = core.EndTurn(Now()); !st.ok()) {
    // Nothing of this turn has been told to anyone; stopping keeps "acknowledged means durable".
    spdlog::critical("broker: journal commit failed ({}); stopping so a restart recovers", st.message());
    return false;
  }
  if (const std::optional<int64_t> rows = core.TakeCommitRows()) {
    // Pipelined, the commit is only sent: Confirm observes it from sent to confirmed.
    if (pipe == nullptr) core.metrics().commit_us.Observe(metrics::MonoUs() - commit_start_us);
    core.metrics().commit_rows.Observe(*rows);
  }
  const int64_t committed = MonoMs();
  std::vector<Outgoing> out = core.TakeOutbox();
  if (pipe != nullptr) {
    const std::optional<uint64_t> ticket = pipe->db->TakeTicket();
    if (overlapped && (ticket || !out.empty())) ++core.metrics().turns_overlapped;
    pipe->held.Hold(ticket, std::move(out));
    if (!Confirm(*pipe, core, lease)) return false;
    out = pipe->held.TakeReleasable();
  }
  Flush(s, core, backlog, std::move(out));
  const int64_t flushed = MonoMs();
  if (flushed - start > heartbeat_ms) {
    spdlog::warn(
        "broker: a turn took {} ms, more than a heartbeat (reading {} ms, timers and dispatch {} ms, journal "
        "commit {} ms, sending {} ms); workers' leases run meanwhile: a slow disk or an overloaded machine",
        flushed - start, drained - start, ticked - drained, committed - ticked, flushed - committed);
  }
  return true;
}

// Records each change a reload of the principals file showed (ServerSecurity::KeyChanges) in the audit
// log, with the turn about to run. Job credentials never appear: they are not in that file.
void AuditKeyChanges(const security::KeysChange& keys, BrokerCore& core) {
  for (const security::PrincipalChange& c : keys.changes) {
    core.Audit(wire::AuditEntry{
        .ts_ms = WallMs(), .principal = keys.by, .action = c.action, .target = c.target, .outcome = "ok"});
  }
}

// Answers what waits on the client socket ERROR NOT_LEADER (StandbyCore), a malformed message as the
// active broker would.
void AnswerAsStandby(Sockets& s, const StandbyCore& standby) {
  for (size_t n = 0; n < kMaxPerTurn; ++n) {
    wire::Incoming in;
    if (!wire::RecvFromRouter(s.clients, &in, true)) return;
    const wire::Decoded d = wire::DecodeIncoming(in);
    const wire::Message answer = d.status != wire::DecodeStatus::kOk
                                     ? wire::MakeError(d.error_code(), d.reason)
                                     : standby.Answer(MonoMs());
    wire::SendTo(s.clients, in.envelope, WithRid(answer, d.rid));
  }
}

// Waits as a standby until this broker holds the journal's lease (true), or a signal came (false, with
// `*code` 0) or the journal failed (false, `*code` 1). Looks at the lease four times per TTL, recording
// `address` (this broker's client address) in it when it takes it. Meanwhile every request on the
// client socket (bound, and secured as the active broker's) is answered NOT_LEADER naming the leader.
bool AcquireLease(LeaseKeeper& k, Sockets& s, SignalWatch& signals, const std::string& address, int* code) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string holder = std::string(host) + ":" + std::to_string(getpid());
  int64_t waiting_for = -1;
  StandbyCore standby(k.lease.PollEveryMs());
  zmq::pollitem_t items[4] = {{s.clients.handle(), 0, ZMQ_POLLIN, 0}, signals.PollItem()};
  const size_t n = 2 + s.security->AddPollItems(&items[2]);  // ZAP and the keys-folder watch
  for (;;) {
    if (standby.LookDue(MonoMs())) {
      const int64_t sent = MonoMs();
      Journal::Lease got;
      if (Status st = k.journal->AcquireLease(holder, k.lease.ttl_ms(), &got, address); !st.ok()) {
        spdlog::error("broker: cannot take the journal's lease: {}", st.message());
        *code = 1;
        return false;
      }
      if (got.acquired) {
        k.lease.Acquired(got.epoch, sent);
        spdlog::info("broker: holds the journal's lease (epoch {}, TTL {} ms)", got.epoch, k.lease.ttl_ms());
        return true;
      }
      standby.Saw(got, MonoMs());
      if (waiting_for != got.epoch) {
        spdlog::info(
            "broker: standby: the journal's lease is held by {} at {} (epoch {}, {} ms left); answering "
            "NOT_LEADER on {} and taking over once it is not renewed",
            got.holder, got.address.empty() ? "an unknown address" : got.address, got.epoch,
            got.expires_in_ms, address);
        waiting_for = got.epoch;
      }
    }
    const int64_t wait = s.security->PollTimeout(std::clamp<int64_t>(standby.NextLook() - MonoMs(), 0, 1000));
    try {
      zmq::poll(items, n, std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      spdlog::info("broker: signal {} received while standby; stopping", signals.Take());
      *code = 0;
      return false;
    }
    (void)s.security->OnPoll(&items[2]);  // handshakes; key changes are the leader's to audit
    AnswerAsStandby(s, standby);
  }
}

bool Expired(const LeaseKeeper& k) {
  spdlog::critical(
      "broker: the journal's lease (epoch {}) was not renewed within its TTL less a margin; "
      "stopping",
      k.lease.epoch());
  return false;
}

// Renews the lease when due. False: the broker must stop acknowledging now (logged): another broker took
// the lease, or renewals failed for longer than the lease is surely ours.
// Renewals run between turns, outside the journal's transaction (one still open waits for the next).
bool KeepLease(LeaseKeeper& k) {
  if (!k.lease.RenewDue(MonoMs()) || k.journal->dirty())
    return k.lease.MayAcknowledge(MonoMs()) || Expired(k);
  const int64_t sent = MonoMs();
  bool held = false;
  const Status st = k.journal->RenewLease(k.lease.epoch(), k.lease.ttl_ms(), &held);
  if (st.ok() && held) {
    k.lease.Renewed(sent);
    return true;
  }
  if (st.ok()) {
    spdlog::critical("broker: lost the journal's lease (epoch {}): another broker took over; stopping",
                     k.lease.epoch());
    return false;
  }
  if (k.lease.MayAcknowledge(MonoMs())) {
    spdlog::warn("broker: cannot renew the journal's lease ({}); retrying", st.message());
    return true;
  }
  spdlog::critical("broker: cannot renew the journal's lease ({}) and it may have expired; stopping",
                   st.message());
  return false;
}

// Polls until a signal (0) or a failure (1); returns the exit code.
int Serve(Sockets& s, BrokerCore& core, SignalWatch& signals, int heartbeat_ms, LeaseKeeper* lease,
          Pipeline* pipe) {
  Backlog backlog;
  // The event PUB socket never reports POLLIN; polling it lets libzmq run its commands, so that the
  // subscriptions of a revoked principal close when ServerSecurity rebinds it.
  zmq::pollitem_t items[7] = {{s.clients.handle(), 0, ZMQ_POLLIN, 0},
                              {s.workers.handle(), 0, ZMQ_POLLIN, 0},
                              signals.PollItem(),
                              {s.events.handle(), 0, ZMQ_POLLIN, 0}};
  const size_t n = 4 + s.security->AddPollItems(&items[4]);  // ZAP and the keys-folder watch
  for (;;) {
    // While commits are in flight, the journal's connection wakes the loop with their outcomes.
    size_t polled = n;
    if (pipe != nullptr && pipe->db->awaiting()) {
      const short write = pipe->db->wants_write() ? ZMQ_POLLOUT : 0;
      items[polled++] =
          zmq::pollitem_t{nullptr, pipe->db->socket(), static_cast<short>(ZMQ_POLLIN | write), 0};
    }
    // Deadlines are monotonic. With a backlog, come back soon to retry it (the worker is draining its
    // queue meanwhile).
    int64_t next = core.NextDeadline();
    if (lease != nullptr) next = std::min(next, lease->lease.NextRenewal());
    const int64_t wait =
        s.security->PollTimeout(std::clamp<int64_t>(next - MonoMs(), 0, backlog.empty() ? 1000 : 1));
    try {
      zmq::poll(items, polled, std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("broker: poll failed: {}", e.what());
      return 1;
    }
    if (items[2].revents & ZMQ_POLLIN) {
      spdlog::info("broker: signal {} received; stopping", signals.Take());
      break;
    }
    // Woken only by the journal's connection, with no timer due: the commits it confirmed release their
    // turns' messages, and no turn runs (there is nothing for one to read or do).
    if (polled > n &&
        std::none_of(items, items + n, [](const zmq::pollitem_t& i) { return i.revents != 0; }) &&
        core.NextDeadline() > MonoMs()) {
      if (lease != nullptr && !KeepLease(*lease)) return 1;
      if (!Confirm(*pipe, core, lease)) return 1;
      Flush(s, core, backlog, pipe->held.TakeReleasable());
      continue;
    }
    // A leader that may have lost its lease acknowledges nothing more: it stops (a supervisor restarts it
    // as a standby). A turn it began in time and that outlives the lease fails at its commit (the fence).
    if (lease != nullptr && !KeepLease(*lease)) return 1;
    // Admit (or refuse) new connections before reading requests. Key changes go to the audit log. What a
    // revoked principal holds is closed: its workers now, its event subscriptions once the turn's events
    // are sent; its other connections get FORBIDDEN per request.
    const security::KeysChange change = s.security->OnPoll(&items[4]);
    AuditKeyChanges(change, core);
    if (!change.revoked.empty()) core.RevokeWorkers(change.revoked, Now());
    core.metrics().node.handshakes_refused = static_cast<int64_t>(s.security->refused());
    if (!Turn(s, core, backlog, heartbeat_ms, pipe, lease)) return 1;
    s.security->CloseSubscriptions(change);
  }
  // What is in flight is still answered: its clients would otherwise wait for their timeout.
  while (pipe != nullptr && pipe->db->awaiting()) {
    pipe->db->AwaitOne();
    if (!Confirm(*pipe, core, lease)) return 1;
    Flush(s, core, backlog, pipe->held.TakeReleasable());
  }
  const Counters& c = core.metrics().node;
  spdlog::info(
      "broker: stopped ({} bad client messages, {} bad worker messages, {} forbidden, {} unroutable, "
      "{} connections refused)",
      c.malformed_clients, core.malformed_from_workers(), c.forbidden, c.undeliverable,
      s.security->refused());
  return 0;
}

}  // namespace

int RunBroker(const BrokerOptions& o) {
  SignalWatch signals;
  Journal journal;
  if (!OpenJournal(o, journal)) return 1;
  // On PostgreSQL, brokers share the journal through its lease: wait as a standby until this one holds
  // it, then start from the journal as any restart does.
  // The client socket is bound first: a standby answers on it (NOT_LEADER) while it waits.
  Sockets s;
  const security::SecurityOptions secure{.keys_dir = o.keys_dir.empty() ? o.dir + "/keys" : o.keys_dir,
                                         .insecure = o.insecure,
                                         .mints_job_keys = true};
  Result<std::unique_ptr<security::ServerSecurity>> guard =
      security::ServerSecurity::Open(s.ctx, secure, o.bind, "broker");
  if (!guard.ok()) {
    spdlog::error("{}", guard.message());
    return 1;
  }
  s.security = std::move(*guard);
  const int port = BindClients(s, o);
  if (port < 0) return 1;
  std::optional<LeaseKeeper> lease;
  if (journal.postgres()) {
    lease.emplace(LeaseKeeper{&journal, LeaseCore(o.lease_ttl_ms)});
    if (int code = 0; !AcquireLease(*lease, s, signals, Advertised(o, port), &code)) return code;
  }
  LogStore logs(o.dir + "/logs");
  CoreConfig config = MakeConfig(o);
  if (!BindSockets(s, o, config)) return 1;
  ArtifactLimits limits;
  limits.max_upload_bytes = o.max_upload_mb << 20;
  auto artifacts = ArtifactService::Open(o.dir + "/artifacts", limits);
  if (!artifacts.ok()) {
    spdlog::error("broker: {}", artifacts.message());
    return 1;
  }
  BrokerCore core(config, &journal, &logs, artifacts.value().get());
  if (Status st = core.Recover(Now()); !st.ok()) {
    spdlog::error("broker: cannot start from the journal {}: {}", journal.path(), st.message());
    return 1;
  }
  core.CheckSpace(Now());  // on a full disk: read-only from the start
  s.security->RetainJobCredentials(core.RunningJobIds());
  s.security->SaveJobCredentials();
  spdlog::info("broker: clients on {}:{}, workers on port {}, events on port {}, journal {}", o.bind, port,
               config.worker_port, config.pub_port, journal.path());
  if (!wire::ArrivingMessagesBounded())
    spdlog::warn(
        "{}: built with TITAN_BOUNDED_LIBZMQ=OFF: a peer can make it hold a message of any number of "
        "frames before it is refused (docs/protocol.md, section 7)",
        "broker");
  std::optional<Pipeline> pipe;
  if (journal.postgres() && o.journal_commits_in_flight > 0) {
    pipe.emplace(Pipeline{journal.postgres_connection(), HeldTurns()});
    pipe->db->SetPipelining(o.journal_commits_in_flight);
  }
  AnnounceReady("broker", "tcp://" + o.bind + ":" + std::to_string(port));
  return Serve(s, core, signals, config.heartbeat_ms, lease ? &*lease : nullptr, pipe ? &*pipe : nullptr);
}

}  // namespace titan::broker
