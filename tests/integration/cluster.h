// Cluster: a TitanStore, a broker and named workers as real `titan` processes on loopback, all in one
// TempDir, with a blocking client for the broker's client dialog and an event feed for waiting.
// For integration tests; single-threaded. Every wait takes a deadline and returns false/empty on expiry.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/node_client.h"
#include "base/test_dir.h"
#include "schemas/cpp/codec.h"
#include "security/credential.h"
#include "tests/integration/node_process.h"

namespace zmq {
class socket_t;
class context_t;
}  // namespace zmq

namespace titan::testing {

using Deadline = std::chrono::steady_clock::time_point;
// A deadline `ms` from now.
Deadline In(std::chrono::milliseconds ms);
int64_t MillisLeft(Deadline d);

// A JobSpec of the protocol; unset optionals are left out of the message.
struct JobSpec {
  std::string id;
  std::string file;  // a name given in Submit's files
  std::string args;
  std::optional<int64_t> priority, delay_ms, retries, timeout_ms;
  std::string requirement;
  std::optional<bool> affinity;
  std::vector<std::string> parents;
  std::vector<std::string> env;  // "NAME=value"
  wire::Map extra;               // further JobSpec fields as given (job_type, port, archive, ...)
  wire::Datum ToDatum() const;
};

// A JobInfo as the broker reported it. `error` is set (and found false) when no valid reply came.
struct JobView {
  std::string error;
  bool found = false;
  std::string id, state, worker, reason;
  int64_t attempt = 0, priority = 0, submitted_ms = 0, started_ms = 0, finished_ms = 0;
  std::optional<int64_t> exit_code;
  int64_t port = 0, restarts = 0;  // services
  bool ready = false;              // services
  bool final() const;
  std::string Render() const;  // "id STATE attempt=1 worker=w1 exit=0 reason=..." for messages
};

struct WorkerView {
  std::string name, state, parent;
  int64_t slots = 0, busy = 0;
  std::vector<std::string> capabilities, running;
};

struct StatsView {
  std::string error;
  std::vector<WorkerView> workers;
  int64_t pending = 0, blocked = 0, scheduled = 0, queued = 0, running = 0, unsatisfiable = 0, completed = 0,
          failed = 0;
  int64_t malformed_from_workers = 0;
  const WorkerView* Worker(const std::string& name) const;
};

// A JOB_INFO reply as a JobView; `error` says what came instead when it is not one.
JobView ViewOf(const wire::Message& reply);
// A STATS reply as a StatsView; `error` says what came instead when it is not one.
StatsView StatsOf(const wire::Message& reply);

struct SubmitResult {
  std::vector<std::string> ids;
  std::string error_code;  // empty when accepted
  std::string error;
};

// One broker event from the PUB socket.
struct Event {
  std::string topic;
  wire::Message msg;
};

// A SUB socket on a broker's event feed.
class EventFeed {
 public:
  // Subscribes to `prefixes` (e.g. "job.") and to "worker." (used to learn the subscription is live).
  // With `credential`, over CURVE.
  EventFeed(zmq::context_t& ctx, const std::string& endpoint, std::vector<std::string> prefixes,
            const std::optional<security::Credential>& credential = std::nullopt);
  ~EventFeed();
  // Waits until the broker delivers any event to us (a worker heartbeat arrives every heartbeat
  // interval per worker), which proves the subscriptions are in place. Needs a live worker.
  bool Sync(Deadline deadline);
  // The next event, or nullopt when none arrived before `deadline`.
  std::optional<Event> Next(Deadline deadline);

 private:
  std::unique_ptr<zmq::socket_t> sub_;
};

class Cluster {
 public:
  static constexpr int kHeartbeatMs = 200;

  Cluster();
  // Stops the workers (SIGINT: their jobs are killed), then the broker and the store. When the test
  // failed, prints the tail of every process log first.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Before Start: every node speaks CURVE. A keys folder is made here (`titan keys init`'s files); the
  // store and broker run with it, workers with a credential of role worker, and this fixture's client
  // and event feed with the admin credential. False with `error()` set on failure.
  bool EnableCurve();
  bool curve() const { return admin_.has_value(); }
  // Makes `s` a CURVE client (before connect) with the admin credential, or with `as_worker` the
  // workers'; nothing without EnableCurve.
  void SecureRaw(zmq::socket_t& s, bool as_worker = false) const;

  // Starts the store and the broker (any free ports) with `broker_args` added to the broker's
  // command line; false with `error()` set on failure.
  bool Start(std::vector<std::string> broker_args = {});
  // Starts worker `name` and waits for "READY worker <name>".
  bool AddWorker(const std::string& name, int slots, const std::vector<std::string>& tags = {},
                 const std::vector<std::string>& extra_args = {});
  NodeProcess* worker(const std::string& name);
  NodeProcess* broker() { return broker_.get(); }
  // Starts a new broker on the same --dir and the same three ports the first one got.
  bool RestartBroker();
  const std::string& error() const { return error_; }

  const TempDir& dir() const { return dir_; }
  std::string Path(const std::string& name) const { return dir_.File(name); }
  int broker_port() const { return broker_port_; }
  int worker_port() const { return worker_port_; }
  int pub_port() const { return pub_port_; }
  std::string Endpoint(int port) const { return "tcp://127.0.0.1:" + std::to_string(port); }
  zmq::context_t& context();

  // Client dialog. `files` maps a file name to its content.
  SubmitResult Submit(const std::vector<JobSpec>& jobs, const std::map<std::string, std::string>& files);
  JobView Get(const std::string& id);
  // One JOB_WAIT: the job once final, or its state after `timeout_ms`.
  JobView Wait(const std::string& id, int64_t timeout_ms);
  // JOB_WAIT until the job is final or `deadline` passes (then the last state seen).
  JobView WaitFinal(const std::string& id, Deadline deadline);
  JobView Stop(const std::string& id);
  StatsView Stats();
  // A raw request; false with `error()` set when nothing valid came back.
  bool Call(const wire::Message& request, wire::Message* reply, int timeout_ms = 10000);

  // Re-checks `done` whenever the broker publishes something (job transitions, worker joins and
  // heartbeats) and at least every 250 ms, until it holds or `deadline` passes.
  bool WaitFor(const std::function<bool()>& done, Deadline deadline);
  // Waits until Get(id) satisfies `pred`.
  JobView WaitJob(const std::string& id, const std::function<bool(const JobView&)>& pred, Deadline deadline);

 private:
  bool StartBroker(int port, int worker_port, int pub_port);
  std::string LogTail(const std::string& file) const;

  TempDir dir_;
  std::string error_;
  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<NodeProcess> store_, broker_;
  std::vector<std::pair<std::string, std::unique_ptr<NodeProcess>>> workers_;
  std::unique_ptr<wire::NodeClient> client_;
  std::unique_ptr<EventFeed> feed_;
  int store_port_ = 0, broker_port_ = 0, worker_port_ = 0, pub_port_ = 0;
  int broker_generation_ = 0;
  std::vector<std::string> broker_args_;
  std::vector<std::string> keys_args_;  // "--keys DIR" with EnableCurve
  std::optional<security::Credential> admin_, worker_credential_;
};

// Waits (inotify on `dir`, no polling) until `done` holds; it is re-checked whenever a file in `dir`
// is created, written and closed, or moved in. False when `deadline` passes first.
bool WaitForFiles(const std::string& dir, const std::function<bool()>& done, Deadline deadline);

// The whole content of `path` ("" when absent) and its lines.
std::string ReadFile(const std::string& path);
std::vector<std::string> ReadLines(const std::string& path);

}  // namespace titan::testing
