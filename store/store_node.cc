// The TitanStore event loop: one ROUTER socket, one thread, group commit.
//
// Each turn drains up to max_batch requests already queued on the socket, applies them in one
// SQLite transaction, commits (one fsync in durable mode), and only then sends the replies, so a
// reply to a write always means the write is on disk. With --audit-writes, each write's audit row is
// written in the same transaction. A batch that fails for lack of space makes the store read-only
// (base/read_only_mode.h): writes are refused at once, reads served, and a probe every second ends it.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "base/clock.h"
#include "base/read_only_mode.h"
#include "base/signal_watch.h"
#include "schemas/cpp/transport.h"
#include "security/server_security.h"
#include "store/store.h"
#include "store/store_metrics.h"
#include "store/store_service.h"

namespace titan::store {
namespace {

using wire::Incoming;
using wire::Message;

struct Pending {
  Incoming in;
  Message reply;
  std::optional<int64_t> rid;         // echoed on whatever reply is finally sent
  std::optional<wire::MsgType> type;  // the request's, once it decoded (metrics)
  bool write = false;
  bool after_write = false;  // a read that followed a write of its batch: it saw that write
};

// The store's read-only mode (a full disk) and when it next probes, on the monotonic clock.
struct Space {
  ReadOnlyMode mode{"store"};
  std::string dir;
  int64_t next_probe_ms = 0;

  void Enter(const Status& cause) {
    const std::string line = mode.Enter(cause, dir, MonoMs(), WallMs());
    if (!line.empty()) spdlog::error("{}", line);
    next_probe_ms = MonoMs() + ReadOnlyMode::kProbeEveryMs;
  }
  // Probes when one is due; leaves read-only mode when it succeeds.
  void Probe(KvEngine& engine) {
    if (!mode.active() || MonoMs() < next_probe_ms) return;
    if (engine.ProbeSpace().ok()) {
      const std::string line = mode.Leave(MonoMs());
      if (!line.empty()) spdlog::info("{}", line);
      return;
    }
    next_probe_ms = MonoMs() + ReadOnlyMode::kProbeEveryMs;
  }
};

// What a batch records in the audit log: nothing, or rows stamped with the batch's wall-clock time.
using AuditClock = std::optional<int64_t>;

// Appends the audit row of `req` answered `reply`, if it has one; a failed append fails the batch, as a
// failed write does (no write is acknowledged without its row).
void Record(KvEngine& engine, const std::string& user_id, const Message& req, const Message& reply,
            int64_t wall_ms, bool* storage_failed) {
  const std::optional<wire::AuditEntry> row = StoreService::AuditOf(user_id, req, reply, wall_ms);
  if (!row) return;
  if (Status s = engine.audit().Append(*row); !s.ok()) {
    spdlog::error("store: {}", s.message());
    *storage_failed = true;
  }
}

// Decodes, authorizes and applies one request inside the open transaction, and records it in the audit
// log there when `audit` says so. While read-only a write is refused before it is applied (and, since
// the journal cannot take its row either, not audited). `failure`: the batch's first storage failure.
void Apply(StoreService& service, KvEngine& engine, const security::ServerSecurity& security,
           const ReadOnlyMode& mode, AuditClock audit, metrics::NodeCounters& counters, Pending& p,
           Status* failure) {
  const wire::Decoded d = wire::DecodeIncoming(p.in);
  p.rid = d.rid;
  Status allowed;
  if (d.status != wire::DecodeStatus::kOk) {
    ++counters.malformed_clients;
    p.reply = wire::MakeError(d.error_code(), d.reason);
    return;
  }
  p.type = d.msg.type;
  if (allowed = security.Authorize(p.in.user_id, wire::SpecOf(d.msg.type)); !allowed.ok()) {
    ++counters.forbidden;
    p.reply = wire::MakeError(allowed);
  } else if (mode.active() && StoreService::IsWrite(d.msg.type)) {
    p.reply = wire::MakeError(wire::ErrorCode::kUnavailable, mode.Refusal());
    return;
  } else {
    Status failed;
    p.reply = service.Handle(d.msg, &failed);
    p.write = StoreService::IsWrite(d.msg.type);
    if (failure->ok()) *failure = failed;
  }
  if (audit) {
    bool audit_failed = false;
    Record(engine, p.in.user_id, d.msg, p.reply, *audit, &audit_failed);
    if (audit_failed && failure->ok()) *failure = Status::Error("the audit log could not take a row");
  }
}

// A batch that did not commit (`failure`): its writes, and the reads that saw them, are answered
// UNAVAILABLE; a full disk makes the store read-only.
void RefuseBatch(std::vector<Pending>& batch, const Status& failure, Space& space) {
  if (IsOutOfSpace(failure)) space.Enter(failure);
  const std::string why = IsOutOfSpace(failure)
                              ? space.mode.Refusal()
                              : "the write was not saved (" + failure.message() + "); retry later";
  for (auto& p : batch) {
    if (p.write) {
      p.reply = wire::MakeError(wire::ErrorCode::kUnavailable, why);
    } else if (p.after_write && p.reply.type != wire::MsgType::kError) {
      p.reply = wire::MakeError(wire::ErrorCode::kUnavailable,
                                "it read a write of its batch, which was rolled back (" + why + ")");
    }
  }
}

void ServeBatch(zmq::socket_t& router, KvEngine& engine, StoreService& service,
                const security::ServerSecurity& security, const StoreOptions& options, Space& space,
                std::vector<Pending>& batch, StoreMetrics& metrics) {
  batch.clear();
  while (batch.size() < options.max_batch) {
    Pending p;
    if (!wire::RecvFromRouter(router, &p.in, /*dontwait=*/true)) break;
    batch.push_back(std::move(p));
  }
  if (batch.empty()) return;
  const int64_t start_us = metrics::MonoUs();
  metrics.node().read_only = space.mode.active();
  Status begun = engine.Begin();
  Status failure;
  const AuditClock audit = options.audit_writes ? AuditClock(WallMs()) : std::nullopt;
  bool wrote = false;
  for (auto& p : batch) {
    if (begun.ok()) {
      p.after_write = wrote;
      Apply(service, engine, security, space.mode, audit, metrics.node(), p, &failure);
      wrote = wrote || p.write;
    } else {
      const wire::Decoded d = wire::DecodeIncoming(p.in);
      p.rid = d.rid;
      if (d.status == wire::DecodeStatus::kOk) p.type = d.msg.type;
      p.reply = wire::MakeError(wire::ErrorCode::kUnavailable,
                                "storage failure (" + begun.message() + "); retry later");
    }
  }
  std::optional<int64_t> commit_us;
  if (begun.ok()) {
    const int64_t commit_start_us = metrics::MonoUs();
    const Status committed = !failure.ok() ? failure : engine.Commit();
    if (committed.ok()) commit_us = metrics::MonoUs() - commit_start_us;
    if (!committed.ok()) {
      engine.Rollback();
      if (!IsOutOfSpace(committed) || !space.mode.active())
        spdlog::error("store: batch of {} rolled back: {}", batch.size(), committed.message());
      RefuseBatch(batch, committed, space);
    }
  }
  for (auto& p : batch) {
    if (p.rid) p.reply.Set("rid", wire::Datum(*p.rid));
    if (!wire::SendTo(router, p.in.envelope, p.reply)) ++metrics.node().undeliverable;
    if (p.type) metrics.Request(*p.type, p.reply.type == wire::MsgType::kError, metrics::MonoUs() - start_us);
  }
  metrics.Batch(static_cast<int64_t>(batch.size()), commit_us);
}

}  // namespace

namespace {

// Opens (creating if needed) the store's database under options.dir; false after logging why not.
bool OpenEngine(const StoreOptions& options, KvEngine& engine, std::string* db_path) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    spdlog::error("store: cannot create data directory '{}': {}", options.dir, ec.message());
    return false;
  }
  *db_path = (std::filesystem::path(options.dir) / "store.db").string();
  if (Status s = engine.Open(*db_path, options.durable); !s.ok()) {
    spdlog::error("store: {}", s.message());
    return false;
  }
  return true;
}

// With --audit-writes and a retention: deletes the audit rows past it, at most once an hour (`next`: the
// monotonic time of the next pruning). A failure is logged; the rows wait for the next try.
void PruneAudit(const StoreOptions& options, KvEngine& engine, const Space& space, int64_t* next) {
  constexpr int64_t kEveryMs = 3600 * 1000;
  if (!options.audit_writes || options.audit_retention_days <= 0 || MonoMs() < *next) return;
  if (space.mode.active()) return;  // a delete writes too: after the disk has space again
  *next = MonoMs() + kEveryMs;
  const Result<int64_t> pruned = engine.audit().Prune(WallMs() - options.audit_retention_days * 86'400'000);
  if (!pruned.ok()) {
    spdlog::error("store: {}", pruned.message());
  } else if (*pruned > 0) {
    spdlog::info("store: deleted {} audit log rows older than {} days (--audit-retention-days)", *pruned,
                 options.audit_retention_days);
  }
}

// Binds the client ROUTER; the bound port, or 0 after logging why not.
int Listen(const StoreOptions& options, security::ServerSecurity& security, zmq::socket_t& router) {
  wire::ConfigureSocket(router);
  security.Secure(router);
  router.set(zmq::sockopt::router_mandatory, 1);
  const std::string endpoint =
      "tcp://" + options.bind + ":" + (options.port ? std::to_string(options.port) : "*");
  try {
    router.bind(endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("store: cannot listen on {}: {} (is another node using that port? choose --port)", endpoint,
                  e.what());
    return 0;
  }
  return wire::BoundPort(router);
}

}  // namespace

int RunStore(const StoreOptions& options) {
  SignalWatch signals;
  KvEngine engine;
  std::string db_path;
  if (!OpenEngine(options, engine, &db_path)) return 1;
  StoreMetrics metrics;
  metrics.node().start_wall_ms = WallMs();
  StoreService service(&engine, &metrics, options.audit_writes);

  zmq::context_t ctx(1);
  const security::SecurityOptions secure{
      options.keys_dir.empty() ? (std::filesystem::path(options.dir) / "keys").string() : options.keys_dir,
      options.insecure};
  Result<std::unique_ptr<security::ServerSecurity>> security =
      security::ServerSecurity::Open(ctx, secure, options.bind, "store");
  if (!security.ok()) {
    spdlog::error("{}", security.message());
    return 1;
  }
  zmq::socket_t router(ctx, zmq::socket_type::router);
  const int port = Listen(options, **security, router);
  if (port == 0) return 1;
  spdlog::info("store: serving {} on tcp://{}:{} ({}{})", db_path, options.bind, port,
               options.durable ? "durable: fsync per batch" : "NOT durable: no fsync",
               options.audit_writes ? "; writes recorded in the audit log" : "");
  if (!wire::ArrivingMessagesBounded())
    spdlog::warn(
        "{}: built with TITAN_BOUNDED_LIBZMQ=OFF: a peer can make it hold a message of any number of "
        "frames before it is refused (docs/protocol.md, section 7)",
        "store");
  Space space{.dir = options.dir};
  if (Status probe = engine.ProbeSpace(); IsOutOfSpace(probe))
    space.Enter(probe);  // read-only from the start
  int64_t next_prune = 0;
  PruneAudit(options, engine, space, &next_prune);
  AnnounceReady("store", "tcp://" + options.bind + ":" + std::to_string(port));

  std::vector<Pending> batch;
  batch.reserve(options.max_batch);
  zmq::pollitem_t items[4] = {{router.handle(), 0, ZMQ_POLLIN, 0}, signals.PollItem()};
  const size_t n = 2 + (*security)->AddPollItems(&items[2]);
  for (;;) {
    try {
      const int64_t wait = space.mode.active() ? std::clamp<int64_t>(space.next_probe_ms - MonoMs(), 0,
                                                                     ReadOnlyMode::kProbeEveryMs)
                                               : -1;
      zmq::poll(items, n, std::chrono::milliseconds((*security)->PollTimeout(wait)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("store: poll failed: {}", e.what());
      return 1;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      spdlog::info("store: signal {} received; stopping", signals.Take());
      break;
    }
    // ZAP first: a connection it admits may have requests queued. A revoked principal's requests are
    // refused one by one (the store keeps no state per connection); a new server key rebinds the socket.
    // Key changes are the broker's to audit.
    (*security)->OnPoll(&items[2]);
    space.Probe(engine);
    metrics.node().handshakes_refused = (*security)->refused();
    if (items[0].revents & ZMQ_POLLIN) {
      ServeBatch(router, engine, service, **security, options, space, batch, metrics);
      PruneAudit(options, engine, space, &next_prune);
    }
  }
  const metrics::NodeCounters& c = metrics.node();
  spdlog::info("store: stopped after {} requests in {} batches ({} errors answered, {} replies unroutable)",
               metrics.requests() + c.malformed_clients, metrics.batches(),
               metrics.errors() + c.malformed_clients, c.undeliverable);
  return 0;
}

}  // namespace titan::store
