// `titan up`: the whole of Titan on this machine. Starts `titan store`, `titan broker` and N
// `titan worker` as child processes of this executable, waits for each one's READY line, then
// supervises them until Ctrl-C, when it stops workers, broker and store in that order.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "base/signal_watch.h"
#include "cli/child_handle.h"
#include "cli/commands.h"
#include "cli/dashboard_launch.h"
#include "cli/up_keys.h"

namespace titan::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kReadyDeadline{20000};
constexpr milliseconds kWorkerGrace{10000};  // > the worker's kill grace (5 s) for its jobs
constexpr milliseconds kNodeGrace{5000};
constexpr int kFallbackPollMs = 500;

struct UpArgs {
  int workers = 2;
  std::string dir = "titan-data";
  int port = 9090;
  std::string bind;
  int slots = 4;
  double cpus = -1;  // each worker's capacity (--cpus, --memory, --gpus); negative: the worker detects it
  int64_t memory_mb = -1;
  int64_t gpus = -1;
  std::string executor = "process";
  bool cold_python = false;           // the workers' --cold-python
  std::string journal;                // the broker's --journal (empty: SQLite in its data directory)
  std::string journal_sync = "full";  // the broker's --journal-sync
  int autoscale_max = 0;              // child workers each worker may be asked to start (0: off)
  bool insecure = false;  // no keys: plaintext (refused by the nodes beyond loopback unless they get it too)
  bool audit_writes = false;  // the store records each write in its audit log (`titan store --audit-writes`)
  std::string dashboard;  // ADDR:PORT of the dashboard; empty: 127.0.0.1 and --port + 5 (any with --port 0)
  bool no_dashboard = false;
  std::string log_format = "text";  // the nodes' --log-format
  std::string metrics_token_file;   // the dashboard's --metrics-token-file
  UpKeys keys;                      // filled by Up unless insecure
};

// The running nodes. Destroying it kills whatever is still running (see ChildHandle).
struct Cluster {
  std::optional<ChildHandle> store, broker, dashboard;
  std::vector<ChildHandle> workers;
  std::vector<ChildHandle*> All() {
    std::vector<ChildHandle*> all;
    if (dashboard) all.push_back(&*dashboard);
    for (ChildHandle& w : workers) all.push_back(&w);
    if (broker) all.push_back(&*broker);
    if (store) all.push_back(&*store);
    return all;
  }
};

// What the nodes announced on their READY lines.
struct Endpoints {
  std::string store, broker;         // tcp://host:port
  std::string dashboard;             // its URL with the one-time login token; empty when it did not start
  std::vector<std::string> workers;  // names
};

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

int PortOf(const std::string& endpoint) {  // "tcp://127.0.0.1:9090" -> 9090
  return std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
}

// Starts one node and waits for its READY line; on failure prints why (with its log's last lines).
bool StartNode(const std::string& label, const std::string& role, const std::vector<std::string>& argv,
               const fs::path& log, int interrupt_fd, std::optional<ChildHandle>* out, std::string* endpoint,
               std::string* error) {
  Result<ChildHandle> spawned = ChildHandle::Spawn(label, argv, log.string());
  if (spawned.ok()) {
    out->emplace(std::move(spawned.value()));
  } else {
    *error = spawned.message();
  }
  if (*out && (*out)->WaitReady(role, kReadyDeadline, interrupt_fd, endpoint, error)) return true;
  if (*error != "interrupted") {
    std::cerr << "titan: the " << label << " did not start: " << *error << "; see " << log.string() << "\n";
    if (*out) std::cerr << (*out)->LogTail(5);
  }
  return false;
}

bool EndedBy(const exec::ExitStatus& how, int sig) {
  return how.kind == exec::ExitStatus::Kind::kSignaled && how.signal == sig;
}

// Workers, then broker, then store: each with a grace period, then SIGKILL. Workers get SIGINT,
// which to a worker means "stop your jobs now (SIGTERM, then SIGKILL after its kill grace), report
// them, exit"; SIGTERM would let running jobs go on for up to its drain grace (30 s).
void Shutdown(Cluster& cluster, SignalWatch& signals) {
  struct Step {
    std::vector<ChildHandle*> children;
    int sig;
    milliseconds grace;
  };
  std::vector<Step> steps{{{}, SIGTERM, kNodeGrace},
                          {{}, SIGINT, kWorkerGrace},
                          {{}, SIGTERM, kNodeGrace},
                          {{}, SIGTERM, kNodeGrace}};
  if (cluster.dashboard) steps[0].children.push_back(&*cluster.dashboard);
  for (ChildHandle& w : cluster.workers) steps[1].children.push_back(&w);
  if (cluster.broker) steps[2].children.push_back(&*cluster.broker);
  if (cluster.store) steps[3].children.push_back(&*cluster.store);
  const auto all = cluster.All();
  if (std::none_of(all.begin(), all.end(), [](ChildHandle* c) { return !c->Exited(); })) {
    cluster = Cluster{};
    KillAdoptedChildren();
    return;
  }
  std::cerr << "titan: stopping: running jobs are stopped, then the broker and the store "
               "(Ctrl-C again to kill at once)\n";
  for (Step& step : steps) {
    std::erase_if(step.children, [](ChildHandle* c) { return c->Exited().has_value(); });  // already reported
    const std::vector<ChildHandle*> killed = StopChildren(step.children, step.sig, step.grace, signals.fd());
    for (ChildHandle* c : step.children) {
      if (std::find(killed.begin(), killed.end(), c) != killed.end()) {
        std::cerr << "titan: killed the " << c->label() << " (it had not stopped)\n";
      } else if (const auto how = c->Exited(); how && !how->success() && !EndedBy(*how, step.sig)) {
        std::cerr << "titan: the " << c->label() << " ended (" << how->Render() << "); see " << c->log_path()
                  << "\n";
      }
    }
  }
  cluster = Cluster{};  // reaps everything
  if (const int left = KillAdoptedChildren(); left > 0) {
    std::cerr << "titan: killed " << left << " job process(es) that killed workers left behind\n";
  }
  std::cerr << "titan: stopped\n";
}

// Until SIGINT/SIGTERM: copies children's stray stdout to their logs and reports any that exits.
// Returns false when none is left.
bool Supervise(Cluster& cluster, SignalWatch& signals) {
  std::vector<ChildHandle*> all = cluster.All();
  for (;;) {
    std::vector<pollfd> fds{{signals.fd(), POLLIN, 0}};
    bool fallback = false, alive = false;
    for (ChildHandle* c : all) {
      if (!c->running()) continue;
      alive = true;
      if (c->exit_fd() >= 0)
        fds.push_back({c->exit_fd(), POLLIN, 0});
      else
        fallback = true;
      if (c->stdout_fd() >= 0) fds.push_back({c->stdout_fd(), POLLIN, 0});
    }
    if (!alive) {
      std::cerr << "titan: every node has exited; nothing left to supervise\n";
      return false;
    }
    poll(fds.data(), fds.size(), fallback ? kFallbackPollMs : -1);
    if (fds[0].revents & POLLIN) {
      signals.Take();
      return true;
    }
    for (ChildHandle* c : all) {
      if (!c->running()) continue;
      if (c->stdout_fd() >= 0) c->DrainStdout();
      if (const auto how = c->Exited()) {
        std::cerr << "titan: the " << c->label() << " (pid " << c->pid() << ") ended (" << how->Render()
                  << "); the others keep running. Its log, " << c->log_path() << ", ends with:\n"
                  << c->LogTail(5);
      }
    }
  }
}

void PrintSummary(const UpArgs& a, const Endpoints& ep) {
  const int port = PortOf(ep.broker);
  const char* all = a.bind == "0.0.0.0" ? " (all interfaces)" : "";
  std::cout << "Titan is up.\n  broker   " << ep.broker << all;
  if (a.port != 0)
    std::cout << "   (workers connect to :" << a.port + 2 << ", events on :" << a.port + 3 << ")";
  std::cout << "\n  store    " << ep.store << all << "\n  workers ";
  for (const std::string& n : ep.workers) std::cout << " " << n;
  if (ep.workers.empty()) {
    std::cout << " none: jobs wait until one joins (titan --port " << port << " worker)\n";
  } else {
    std::cout << "  (" << a.slots << " slots each, " << a.executor << " executor)\n";
  }
  std::cout << "  data     " << fs::absolute(a.dir).string() << "   (logs in "
            << (fs::path(a.dir) / "logs").string() << ")\n";
  if (a.keys.dir.empty()) {
    std::cout << "  security NONE: --insecure, no authentication or encryption\n";
  } else {
    std::cout << "  security CURVE; admin credential " << a.keys.admin_credential
              << "\n           (found by clients on this machine; `titan keys add NAME --role ROLE --dir "
              << a.dir << "` for others)\n";
  }
  if (!ep.dashboard.empty()) {
    std::cout << "  dashboard " << ep.dashboard << "   (the link logs you in once)\n";
    std::cout << "  metrics  " << ep.dashboard.substr(0, ep.dashboard.find("/login"))
              << "/metrics   (Prometheus; /healthz, /readyz)\n";
  }
  std::cout << "\nIn another terminal:\n";
  if (port != 9090) std::cout << "  export TITAN_PORT=" << port << "\n";
  std::cout << "  titan run hello.py --wait      # submit a script and follow its output\n"
            << "  titan stats                    # workers and queues\n"
            << "  titan jobs                     # recent jobs\n\nCtrl-C stops everything.\n"
            << std::flush;
}

// Starts store, broker and workers in that order, each once the previous one is READY. Returns
// kStarted, or kInterrupted / kFailed (already reported) with whatever did start in *cluster.
enum class Start { kStarted, kInterrupted, kFailed };
Start StartAll(const UpArgs& a, int interrupt_fd, Cluster* cluster, Endpoints* ep) {
  std::error_code ec;
  const std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
  const fs::path dir(a.dir), logs = dir / "logs";
  auto port_at = [&](int offset) { return std::to_string(a.port ? a.port + offset : 0); };
  std::vector<std::string> bind_args;
  if (!a.bind.empty()) bind_args = {"--bind", a.bind};
  if (a.insecure) bind_args.push_back("--insecure");
  if (!a.keys.dir.empty()) bind_args.insert(bind_args.end(), {"--keys", a.keys.dir});
  std::string error;
  auto start = [&](const std::string& label, const std::string& role, std::vector<std::string> argv,
                   const std::string& log, std::optional<ChildHandle>* out, std::string* endpoint) {
    if (role != "worker") argv.insert(argv.end(), bind_args.begin(), bind_args.end());
    argv.insert(argv.end(), {"--log-format", a.log_format});
    return StartNode(label, role, argv, logs / log, interrupt_fd, out, endpoint, &error);
  };
  std::vector<std::string> store_argv{exe, "store", "--port", port_at(1), "--dir", (dir / "store").string()};
  if (a.audit_writes) store_argv.push_back("--audit-writes");
  bool ok = start("store", "store", store_argv, "store.log", &cluster->store, &ep->store);
  std::vector<std::string> broker_argv{exe,
                                       "broker",
                                       "--port",
                                       port_at(0),
                                       "--worker-port",
                                       port_at(2),
                                       "--pub-port",
                                       port_at(3),
                                       "--dir",
                                       (dir / "broker").string(),
                                       "--store-port",
                                       std::to_string(PortOf(ep->store)),
                                       "--autoscale-max",
                                       std::to_string(a.autoscale_max)};
  if (!a.journal.empty()) broker_argv.insert(broker_argv.end(), {"--journal", a.journal});
  if (a.journal_sync != "full") broker_argv.insert(broker_argv.end(), {"--journal-sync", a.journal_sync});
  ok = ok && start("broker", "broker", broker_argv, "broker.log", &cluster->broker, &ep->broker);
  // Workers dial the broker; a wildcard bind is reached over loopback.
  const std::string broker_host = a.bind.empty() || a.bind == "0.0.0.0" ? "127.0.0.1" : a.bind;
  for (int i = 1; ok && i <= a.workers; ++i) {
    const std::string n = std::to_string(i), name = Hostname() + "-w" + n;
    std::optional<ChildHandle> worker;
    std::string announced;
    std::vector<std::string> argv = {exe, "--host", broker_host, "--port",
                                     std::to_string(PortOf(ep->broker))};
    if (!a.keys.worker_credential.empty())
      argv.insert(argv.end(), {"--credentials", a.keys.worker_credential});
    argv.insert(argv.end(), {"worker", "--name", name, "--dir", (dir / ("worker-" + n)).string(), "--slots",
                             std::to_string(a.slots), "--executor", a.executor});
    if (a.cpus >= 0) argv.insert(argv.end(), {"--cpus", std::to_string(a.cpus)});
    if (a.memory_mb >= 0) argv.insert(argv.end(), {"--memory", std::to_string(a.memory_mb)});
    if (a.gpus >= 0) argv.insert(argv.end(), {"--gpus", std::to_string(a.gpus)});
    if (a.cold_python) argv.push_back("--cold-python");
    ok = start("worker " + name, "worker", argv, "worker-" + n + ".log", &worker, &announced);
    if (worker) cluster->workers.push_back(std::move(*worker));
    ep->workers.push_back(announced);
  }
  if (ok) return Start::kStarted;
  return error == "interrupted" ? Start::kInterrupted : Start::kFailed;
}

// The dashboard, once the broker is up. It is optional: when it cannot start (its port is taken, the
// Python part is not installed) `titan up` says why and runs on without it.
void StartDashboard(const UpArgs& a, int interrupt_fd, Cluster* cluster, Endpoints* ep) {
  if (a.no_dashboard) return;
  const int port = a.port == 0 ? 0 : a.port + 5;
  DashboardLaunch launch{.listen = a.dashboard.empty() ? "127.0.0.1:" + std::to_string(port) : a.dashboard,
                         .broker_host = "127.0.0.1",
                         .broker_port = PortOf(ep->broker),
                         .credentials = a.keys.admin_credential,
                         .metrics_token_file = a.metrics_token_file};
  const fs::path log = fs::path(a.dir) / "logs" / "dashboard.log";
  Result<ChildHandle> spawned = ChildHandle::Spawn("dashboard", DashboardArgv(launch), log.string());
  std::string error;
  if (spawned.ok()) {
    cluster->dashboard.emplace(std::move(spawned.value()));
    if (cluster->dashboard->WaitReady("dashboard", kReadyDeadline, interrupt_fd, &ep->dashboard, &error))
      return;
  } else {
    error = spawned.message();
  }
  if (error == "interrupted") {
    cluster->dashboard.reset();
    return;
  }
  std::cerr << "titan: the dashboard did not start (" << error << "); the cluster runs without it. See "
            << log.string() << "; --no-dashboard skips it, --dashboard ADDR:PORT moves it\n";
  if (cluster->dashboard) std::cerr << cluster->dashboard->LogTail(5);
  cluster->dashboard.reset();
  ep->dashboard.clear();
}

int Up(UpArgs a) {
  SignalWatch signals;  // blocks SIGINT/SIGTERM: they arrive on signals.fd() between loop turns
  BecomeSubreaper();    // jobs of a worker that had to be killed become ours to end
  std::error_code ec;
  const fs::path logs = fs::path(a.dir) / "logs";
  fs::create_directories(logs, ec);
  if (ec) {
    std::cerr << "titan: cannot create '" << logs.string() << "': " << ec.message() << "\n";
    return 1;
  }
  if (!a.insecure) {
    Result<UpKeys> keys = PrepareUpKeys(a.dir);
    if (!keys.ok()) {
      std::cerr << "titan: " << keys.message() << "\n";
      return 1;
    }
    a.keys = *keys;
  }
  Cluster cluster;
  Endpoints ep;
  const Start started = StartAll(a, signals.fd(), &cluster, &ep);
  bool ok = started != Start::kFailed;
  std::vector<std::string> links;
  if (started == Start::kStarted) {
    for (const char* host : {"127.0.0.1", "localhost"}) {
      if (!a.keys.dir.empty()) links.push_back(LinkCredential(a.keys, host, PortOf(ep.broker)));
    }
    StartDashboard(a, signals.fd(), &cluster, &ep);
    PrintSummary(a, ep);
    ok = Supervise(cluster, signals);
  }
  Shutdown(cluster, signals);
  for (const std::string& link : links) {
    std::error_code ec;
    if (!link.empty()) fs::remove(link, ec);
  }
  return ok ? 0 : 1;
}

}  // namespace

void AddUpCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<UpArgs>();
  CLI::App* cmd =
      app.add_subcommand("up", "Run all of Titan here: a store, a broker and workers, until Ctrl-C");
  cmd->footer(
      "Ports: the broker listens on --port (the one clients use), the store on --port+1, workers\n"
      "connect on --port+2, events are published on --port+3 and the dashboard is on 127.0.0.1:--port+5\n"
      "(--port 0: any free ports).\n"
      "Each node's log is DIR/logs/<node>.log. The dashboard serves Prometheus metrics at /metrics and\n"
      "health checks at /healthz and /readyz (docs/observability.md).");
  cmd->add_option("--workers", a->workers, "worker processes to start")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--dir", a->dir, "data directory for every node")->capture_default_str();
  cmd->add_option("--port", a->port, "broker port for clients (0: any free port)")
      ->check(CLI::Range(0, 65532))
      ->capture_default_str();
  cmd->add_option("--bind", a->bind,
                  "interface to listen on (default 127.0.0.1; 0.0.0.0 for remote workers)");
  cmd->add_flag("--insecure", a->insecure,
                "no keys: no authentication or encryption (default: keys made in DIR/keys on first start)");
  cmd->add_option("--slots", a->slots, "jobs each worker runs at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  AddCapacityOptions(cmd, &a->cpus, &a->memory_mb, &a->gpus);  // each worker's
  cmd->add_option("--executor", a->executor, "process: run jobs; noop: complete them at once (benchmarks)")
      ->check(CLI::IsMember({"process", "noop"}))
      ->capture_default_str();
  cmd->add_flag("--cold-python", a->cold_python,
                "each worker starts every .py job in a fresh interpreter instead of forking a warm one");
  cmd->add_option("--journal", a->journal,
                  "the broker's journal in PostgreSQL (a postgresql:// URI) instead of DIR/broker/broker.db");
  cmd->add_option(
         "--journal-sync", a->journal_sync,
         "the broker's journal commits: full (fsync before acknowledging) or normal (survives kill -9 "
         "of the broker, not a power loss; docs/operations.md)")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  cmd->add_option("--autoscale-max", a->autoscale_max,
                  "auto-scaling: child workers each worker may start when jobs wait for slots (0: off)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_flag("--audit-writes", a->audit_writes,
                "record each TitanStore write (its key, never its value) in the store's audit log");
  cmd->add_option("--dashboard", a->dashboard,
                  "ADDR:PORT of the dashboard (default 127.0.0.1 and --port + 5, e.g. 9095)");
  cmd->add_flag("--no-dashboard", a->no_dashboard, "do not start the dashboard");
  AddLogFormatOption(*cmd, &a->log_format);
  AddMetricsTokenOption(*cmd, &a->metrics_token_file);
  cmd->callback([a, exit_code] { *exit_code = Up(*a); });
}

}  // namespace titan::cli
