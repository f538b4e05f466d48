// store_bench: TitanStore throughput (STORE_PUT, STORE_GET, STORE_SADD) with 1 and many concurrent
// clients, against a `titan store` it starts itself, durable (default) and with --no-sync. Each client
// is a thread with its own DEALER socket keeping `window` requests in flight (1 = like a REQ client).
// Requests are pre-encoded, so the client spends its time on the socket, as redis-benchmark does.
// Prints RESULT lines (see bench_util.h) and a summary; run_all.sh puts Redis beside them.
#include <CLI/CLI.hpp>
#include <barrier>
#include <csignal>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "tests/bench/bench_curve.h"
#include "tests/bench/bench_util.h"

namespace titan::bench {
namespace {

constexpr std::string_view kSig{"TITAN\x01", 6};
constexpr uint8_t kPut = 0x10, kGet = 0x11, kSadd = 0x13;
constexpr uint8_t kError = 0x01, kStoreOk = 0x20, kStoreValue = 0x21, kStoreCount = 0x22;

struct Options {
  std::vector<std::string> modes{"durable", "nosync"};
  std::vector<std::string> ops{"put", "get", "sadd"};
  std::vector<std::string> configs{"1x1", "50x1", "50x16"};  // clients x window
  double seconds = 3.0;
  uint64_t keyspace = 10000;
  size_t value_size = 16;
  std::string driver = "threads";  // threads: a thread per client; poll: one thread polls every client
};

// A request body with a 12-digit random number and a rid patched in place before each send.
struct Template {
  uint8_t type = 0;
  uint8_t reply = 0;
  std::string body;
  size_t digits_at = 0;
  size_t rid_at = 0;
};

// Mirrors redis-benchmark: SET key:__rand_int__ <value>, GET key:__rand_int__,
// SADD myset element:__rand_int__ (12-digit numbers below the keyspace).
Template MakeTemplate(const std::string& op, size_t value_size) {
  Template t;
  const std::string key = "key:000000000000";
  if (op == "put") {
    t.type = kPut;
    t.reply = kStoreOk;
    mp::MapHeader(&t.body, 3);
    mp::Str(&t.body, "key");
    mp::Str(&t.body, key);
    t.digits_at = t.body.size() - 12;
    mp::Str(&t.body, "value");
    mp::Str(&t.body, std::string(value_size, 'x'));
  } else if (op == "get") {
    t.type = kGet;
    t.reply = kStoreValue;
    mp::MapHeader(&t.body, 2);
    mp::Str(&t.body, "key");
    mp::Str(&t.body, key);
    t.digits_at = t.body.size() - 12;
  } else {
    t.type = kSadd;
    t.reply = kStoreCount;
    mp::MapHeader(&t.body, 3);
    mp::Str(&t.body, "key");
    mp::Str(&t.body, "myset");
    mp::Str(&t.body, "member");
    mp::Str(&t.body, "element:000000000000");
    t.digits_at = t.body.size() - 12;
  }
  mp::Str(&t.body, "rid");
  t.rid_at = mp::FixedU32(&t.body, 0);
  return t;
}

void ConfigureClient(zmq::socket_t& s) {
  SecureBenchClient(s);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
}

void SendRequest(zmq::socket_t& s, const Template& t) {
  const char type = static_cast<char>(t.type);
  s.send(zmq::const_buffer(nullptr, 0), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(kSig.data(), kSig.size()), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(&type, 1), zmq::send_flags::sndmore);
  s.send(zmq::const_buffer(t.body.data(), t.body.size()), zmq::send_flags::none);
}

// Receives one reply; returns its type (0 when malformed) and its rid (-1 when absent).
std::pair<uint8_t, int64_t> RecvReply(zmq::socket_t& s, zmq::message_t frames[4]) {
  size_t n = 0;
  bool more = true;
  while (more) {
    zmq::message_t scratch;
    zmq::message_t& f = n < 4 ? frames[n] : scratch;
    (void)s.recv(f, zmq::recv_flags::none);
    more = f.more();
    ++n;
  }
  if (n != 4 || frames[2].size() != 1) return {0, -1};
  const uint8_t type = *static_cast<const uint8_t*>(frames[2].data());
  const auto rid =
      mp::FindInt(std::string_view(static_cast<const char*>(frames[3].data()), frames[3].size()), "rid");
  return {type, rid.value_or(-1)};
}

struct ClientStats {
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::vector<double> latency_us;
};

// Completion of the start barrier: the moment every client is connected and warmed up.
struct SetStart {
  Clock::time_point* t;
  void operator()() noexcept { *t = Clock::now(); }
};
using StartBarrier = std::barrier<SetStart>;

struct Run {
  std::string endpoint;
  Template tmpl;
  int clients = 1;
  int window = 1;
  double seconds = 3;
  uint64_t keyspace = 10000;
};

// One client thread: connect, one warm-up round trip, wait for all, then run until the deadline.
void Client(const Run& run, zmq::context_t& ctx, int index, StartBarrier& start, Clock::time_point* t_start,
            ClientStats* out) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  ConfigureClient(s);
  s.connect(run.endpoint);
  Template t = run.tmpl;
  Rng rng(0x1234567ull * static_cast<uint64_t>(index + 1));
  zmq::message_t frames[4];
  uint32_t next_rid = 1;
  auto send_one = [&](std::deque<std::pair<uint32_t, Clock::time_point>>& inflight) {
    WriteDigits(&t.body, t.digits_at, 12, rng.Next() % run.keyspace);
    mp::PatchU32(&t.body, t.rid_at, next_rid);
    inflight.emplace_back(next_rid++, Clock::now());
    SendRequest(s, t);
  };
  std::deque<std::pair<uint32_t, Clock::time_point>> inflight;
  send_one(inflight);  // warm-up: the connection is up once this is answered
  RecvReply(s, frames);
  inflight.clear();
  start.arrive_and_wait();
  const auto deadline = *t_start + std::chrono::microseconds(static_cast<int64_t>(run.seconds * 1e6));
  out->latency_us.reserve(200000);
  bool sending = true;
  while (sending || !inflight.empty()) {
    while (sending && inflight.size() < static_cast<size_t>(run.window)) send_one(inflight);
    const auto [type, rid] = RecvReply(s, frames);
    const auto now = Clock::now();
    const auto [want, sent_at] = inflight.front();
    inflight.pop_front();
    if (now > deadline) {
      sending = false;
      continue;  // past the deadline: drained, not counted
    }
    if (type != run.tmpl.reply || rid != want) ++out->errors;
    ++out->ops;
    if (out->latency_us.size() < 1000000) out->latency_us.push_back(MicrosBetween(sent_at, now));
  }
}

struct Measured {
  double ops_per_s = 0;
  uint64_t ops = 0, errors = 0;
  double p50_us = 0, p99_us = 0;
};

Measured Measure(const Run& run) {
  zmq::context_t ctx(1);
  std::vector<ClientStats> stats(static_cast<size_t>(run.clients));
  Clock::time_point t_start;
  StartBarrier start(run.clients + 1, SetStart{&t_start});
  std::vector<std::thread> threads;
  for (int i = 0; i < run.clients; ++i) {
    threads.emplace_back(Client, std::cref(run), std::ref(ctx), i, std::ref(start), &t_start,
                         &stats[static_cast<size_t>(i)]);
  }
  start.arrive_and_wait();
  for (auto& th : threads) th.join();
  Measured m;
  std::vector<double> lat;
  for (const auto& s : stats) {
    m.ops += s.ops;
    m.errors += s.errors;
    lat.insert(lat.end(), s.latency_us.begin(), s.latency_us.end());
  }
  m.ops_per_s = static_cast<double>(m.ops) / run.seconds;
  m.p50_us = Percentile(lat, 50);
  m.p99_us = Percentile(std::move(lat), 99);
  return m;
}

// The same clients driven from one thread that polls all their sockets, as redis-benchmark drives
// its connections from one event loop: shows how much of a result is the client's own cost.
Measured MeasurePolled(const Run& run) {
  struct Conn {
    std::unique_ptr<zmq::socket_t> s;
    Template t;
    Rng rng{1};
    uint32_t next_rid = 1;
    std::deque<std::pair<uint32_t, Clock::time_point>> inflight;
  };
  zmq::context_t ctx(1);
  std::vector<Conn> conns(static_cast<size_t>(run.clients));
  zmq::message_t frames[4];
  auto send_one = [&](Conn& c) {
    WriteDigits(&c.t.body, c.t.digits_at, 12, c.rng.Next() % run.keyspace);
    mp::PatchU32(&c.t.body, c.t.rid_at, c.next_rid);
    c.inflight.emplace_back(c.next_rid++, Clock::now());
    SendRequest(*c.s, c.t);
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    ConfigureClient(*c.s);
    c.s->connect(run.endpoint);
    c.t = run.tmpl;
    c.rng = Rng(0x1234567ull * (i + 1));
    send_one(c);
  }
  for (Conn& c : conns) {  // warm-up round trips
    RecvReply(*c.s, frames);
    c.inflight.clear();
  }
  Measured m;
  std::vector<double> lat;
  const auto t_start = Clock::now();
  const auto deadline = t_start + std::chrono::microseconds(static_cast<int64_t>(run.seconds * 1e6));
  for (Conn& c : conns) {
    while (c.inflight.size() < static_cast<size_t>(run.window)) send_one(c);
  }
  std::vector<zmq::pollitem_t> items;
  for (Conn& c : conns) items.push_back({c.s->handle(), 0, ZMQ_POLLIN, 0});
  size_t outstanding = conns.size() * static_cast<size_t>(run.window);
  while (outstanding > 0) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      while (!c.inflight.empty() && (c.s->get(zmq::sockopt::events) & ZMQ_POLLIN)) {
        const auto [type, rid] = RecvReply(*c.s, frames);
        const auto now = Clock::now();
        const auto [want, sent_at] = c.inflight.front();
        c.inflight.pop_front();
        --outstanding;
        if (now > deadline) continue;
        if (type != run.tmpl.reply || rid != want) ++m.errors;
        ++m.ops;
        if (lat.size() < 2000000) lat.push_back(MicrosBetween(sent_at, now));
        send_one(c);
        ++outstanding;
      }
    }
  }
  m.ops_per_s = static_cast<double>(m.ops) / run.seconds;
  m.p50_us = Percentile(lat, 50);
  m.p99_us = Percentile(std::move(lat), 99);
  return m;
}

// Writes every key (put) or every set member (sadd) of the keyspace once, pipelined, so GET finds
// values and SADD finds members, as they do in Redis after run_all.sh's fill runs.
void Prefill(const std::string& endpoint, const Options& o, const std::string& op) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  ConfigureClient(s);
  s.connect(endpoint);
  Template t = MakeTemplate(op, o.value_size);
  zmq::message_t frames[4];
  uint64_t sent = 0, received = 0;
  while (received < o.keyspace) {
    while (sent < o.keyspace && sent - received < 512) {
      WriteDigits(&t.body, t.digits_at, 12, sent);
      mp::PatchU32(&t.body, t.rid_at, static_cast<uint32_t>(++sent));
      SendRequest(s, t);
    }
    RecvReply(s, frames);
    ++received;
  }
}

std::pair<int, int> ParseConfig(const std::string& c) {
  const size_t x = c.find('x');
  if (x == std::string::npos) return {std::atoi(c.c_str()), 1};
  return {std::atoi(c.substr(0, x).c_str()), std::atoi(c.substr(x + 1).c_str())};
}

struct Row {
  std::string mode, op;
  int clients, window;
  Measured m;
};

int Main(const Options& o) {
  std::vector<Row> rows;
  TempDir root("titan-store-bench");
  const FsyncProbe fsync = ProbeFsync(root.path(), 200);
  PrintFsyncProbe(root.path(), fsync);
  for (const std::string& mode : o.modes) {
    const std::string dir = root.path() + "/" + mode;
    std::vector<std::string> args = {"store", "--port", "0", "--dir", dir};
    if (mode == "nosync") args.push_back("--no-sync");
    for (const std::string& a : NodeKeyArgs()) args.push_back(a);
    TitanProcess store(args, root.path() + "/store-" + mode + ".log");
    if (store.WaitReady().empty() || store.port() <= 0) {
      std::fprintf(stderr, "store_bench: titan store did not start (see %s/store-%s.log)\n",
                   root.path().c_str(), mode.c_str());
      return 1;
    }
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(store.port());
    for (const std::string& op : o.ops) {
      if (op == "get") Prefill(endpoint, o, "put");
      if (op == "sadd") Prefill(endpoint, o, "sadd");
      for (const std::string& config : o.configs) {
        const auto [clients, window] = ParseConfig(config);
        Run run{endpoint, MakeTemplate(op, o.value_size), clients, window, o.seconds, o.keyspace};
        const Measured m = o.driver == "poll" ? MeasurePolled(run) : Measure(run);
        rows.push_back(Row{mode, op, clients, window, m});
        Result("store_bench")
            .Add("system", "titan")
            .Add("driver", o.driver)
            .Add("mode", mode)
            .Add("op", op)
            .Add("clients", clients)
            .Add("window", window)
            .Add("seconds", o.seconds)
            .Add("ops", static_cast<int64_t>(m.ops))
            .Add("errors", static_cast<int64_t>(m.errors))
            .Add("ops_per_s", m.ops_per_s)
            .Add("p50_us", m.p50_us)
            .Add("p99_us", m.p99_us)
            .Print();
      }
    }
    store.Stop(SIGTERM);
  }
  std::printf(
      "\nTitanStore throughput (%.1f s per run, keyspace %llu, %zu-byte values; fdatasync p50 %.0f us "
      "appending, %.0f us overwriting)\n",
      o.seconds, static_cast<unsigned long long>(o.keyspace), o.value_size, Percentile(fsync.append_us, 50),
      Percentile(fsync.overwrite_us, 50));
  std::printf("%-8s %-5s %7s %6s %12s %10s %10s %7s\n", "mode", "op", "clients", "window", "ops/s", "p50 us",
              "p99 us", "errors");
  for (const auto& r : rows) {
    std::printf("%-8s %-5s %7d %6d %12.0f %10.0f %10.0f %7llu\n", r.mode.c_str(), r.op.c_str(), r.clients,
                r.window, r.m.ops_per_s, r.m.p50_us, r.m.p99_us, static_cast<unsigned long long>(r.m.errors));
  }
  return 0;
}

}  // namespace
}  // namespace titan::bench

int main(int argc, char** argv) {
  titan::bench::Options o;
  std::string modes = "durable,nosync", ops = "put,get,sadd", configs = "1x1,50x1,50x16";
  CLI::App app{"TitanStore throughput benchmark (starts its own titan store)"};
  app.add_option("--modes", modes, "durable,nosync")->capture_default_str();
  app.add_option("--ops", ops, "put,get,sadd")->capture_default_str();
  app.add_option("--configs", configs, "CLIENTSxWINDOW list: threads, each with WINDOW requests in flight")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "duration of each run")->capture_default_str();
  app.add_option("--keyspace", o.keyspace, "random keys/members drawn from 0..N-1")->capture_default_str();
  app.add_option("--value-size", o.value_size, "bytes per STORE_PUT value")->capture_default_str();
  app.add_option("--driver", o.driver, "threads: a thread and DEALER per client; poll: one thread polls all")
      ->check(CLI::IsMember({"threads", "poll"}))
      ->capture_default_str();
  bool curve = false;
  app.add_flag("--curve", curve, "run the store with keys: every request over CURVE (docs/security.md)");
  CLI11_PARSE(app, argc, argv);
  titan::bench::KillChildrenOnSignal();
  o.modes = titan::bench::SplitList(modes);
  o.ops = titan::bench::SplitList(ops);
  o.configs = titan::bench::SplitList(configs);
  titan::bench::TempDir keys("titan-store-bench-keys");
  if (curve && !titan::bench::EnableCurve(keys.path())) return 1;
  return titan::bench::Main(o);
}
