// The TitanStore event loop: one ROUTER socket, one thread, group commit.
//
// Each turn drains up to max_batch requests already queued on the socket, applies them in one
// SQLite transaction, commits (one fsync in durable mode), and only then sends the replies, so a
// reply to a write always means the write is on disk. With --audit-writes, each write's audit row is
// written in the same transaction.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "base/clock.h"
#include "base/signal_watch.h"
#include "schemas/cpp/transport.h"
#include "security/server_security.h"
#include "store/store.h"
#include "store/store_service.h"

namespace titan::store {
namespace {

using wire::Incoming;
using wire::Message;

struct Pending {
  Incoming in;
  Message reply;
  std::optional<int64_t> rid;  // echoed on whatever reply is finally sent
  bool write = false;
};

struct Counters {
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t unroutable = 0;
  uint64_t batches = 0;
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
// log there when `audit` says so.
void Apply(StoreService& service, KvEngine& engine, const security::ServerSecurity& security,
           AuditClock audit, Pending& p, bool* storage_failed) {
  const wire::Decoded d = wire::DecodeIncoming(p.in);
  Status allowed;
  if (d.status != wire::DecodeStatus::kOk) {
    p.reply = wire::MakeError(d.error_code(), d.reason);
  } else if (allowed = security.Authorize(p.in.user_id, wire::SpecOf(d.msg.type)); !allowed.ok()) {
    p.reply = wire::MakeError(allowed);
  } else {
    bool failed = false;
    p.reply = service.Handle(d.msg, &failed);
    p.write = StoreService::IsWrite(d.msg.type);
    *storage_failed = *storage_failed || failed;
  }
  p.rid = d.rid;
  if (audit && d.status == wire::DecodeStatus::kOk) {
    Record(engine, p.in.user_id, d.msg, p.reply, *audit, storage_failed);
  }
}

void ServeBatch(zmq::socket_t& router, KvEngine& engine, StoreService& service,
                const security::ServerSecurity& security, const StoreOptions& options,
                std::vector<Pending>& batch, Counters& counters) {
  batch.clear();
  while (batch.size() < options.max_batch) {
    Pending p;
    if (!wire::RecvFromRouter(router, &p.in, /*dontwait=*/true)) break;
    batch.push_back(std::move(p));
  }
  if (batch.empty()) return;
  ++counters.batches;
  Status begun = engine.Begin();
  bool storage_failed = !begun.ok();
  const AuditClock audit = options.audit_writes ? AuditClock(WallMs()) : std::nullopt;
  for (auto& p : batch) {
    if (begun.ok()) {
      Apply(service, engine, security, audit, p, &storage_failed);
    } else {
      p.rid = wire::DecodeIncoming(p.in).rid;
      p.reply = wire::MakeError(wire::ErrorCode::kUnavailable,
                                "storage failure (" + begun.message() + "); retry later");
    }
  }
  if (begun.ok()) {
    Status committed = storage_failed ? Status::Error("an operation in the batch failed") : engine.Commit();
    if (!committed.ok()) {
      engine.Rollback();
      spdlog::error("store: batch of {} rolled back: {}", batch.size(), committed.message());
      for (auto& p : batch) {
        if (p.write)
          p.reply = wire::MakeError(wire::ErrorCode::kUnavailable,
                                    "the write was not saved (" + committed.message() + "); retry later");
      }
    }
  }
  for (auto& p : batch) {
    if (p.rid) p.reply.Set("rid", wire::Datum(*p.rid));
    ++counters.requests;
    if (p.reply.type == wire::MsgType::kError) ++counters.errors;
    if (!wire::SendTo(router, p.in.envelope, p.reply)) ++counters.unroutable;
  }
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
void PruneAudit(const StoreOptions& options, KvEngine& engine, int64_t* next) {
  constexpr int64_t kEveryMs = 3600 * 1000;
  if (!options.audit_writes || options.audit_retention_days <= 0 || MonoMs() < *next) return;
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
  StoreService service(&engine);

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
  int64_t next_prune = 0;
  PruneAudit(options, engine, &next_prune);
  AnnounceReady("store", "tcp://" + options.bind + ":" + std::to_string(port));

  Counters counters;
  std::vector<Pending> batch;
  batch.reserve(options.max_batch);
  zmq::pollitem_t items[4] = {{router.handle(), 0, ZMQ_POLLIN, 0}, signals.PollItem()};
  const size_t n = 2 + (*security)->AddPollItems(&items[2]);
  for (;;) {
    try {
      zmq::poll(items, n, std::chrono::milliseconds((*security)->PollTimeout(-1)));
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
    if (items[0].revents & ZMQ_POLLIN) {
      ServeBatch(router, engine, service, **security, options, batch, counters);
      PruneAudit(options, engine, &next_prune);
    }
  }
  spdlog::info("store: stopped after {} requests in {} batches ({} errors answered, {} replies unroutable)",
               counters.requests, counters.batches, counters.errors, counters.unroutable);
  return 0;
}

}  // namespace titan::store
