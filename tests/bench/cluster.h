// A broker and its workers started as real `titan` processes for jobs_bench, and the client side of
// the broker dialog the benchmark needs: a blocking call, a pipelined JOB_SUBMIT stream, and a SUB
// socket for EVENT_JOB / EVENT_WORKER. Single-threaded: one thread owns a Cluster and its sockets.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "schemas/cpp/codec.h"
#include "tests/bench/bench_util.h"

namespace titan::bench {

// A job script as it travels in JOB_SUBMIT.files.
struct JobFile {
  std::string name;  // "true" (an ELF, run directly) or "true.sh" (run by bash)
  std::string content;
};

class Cluster {
 public:
  // Starts `titan broker` with its data in `dir` and `broker_args` added (retention flags); logs go to
  // dir/*.log. Check ok() afterwards.
  explicit Cluster(std::string dir, const std::vector<std::string>& broker_args = {});
  ~Cluster();  // SIGTERM to workers (they drain), then the broker; SIGKILL after a grace period
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  bool ok() const { return port_ > 0 && pub_port_ > 0; }
  int port() const { return port_; }
  const std::string& endpoint() const { return endpoint_; }
  std::string pub_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(pub_port_); }

  // Starts `titan worker --name NAME --slots SLOTS --executor EXECUTOR` and waits until the broker
  // lists it; false (with a message on stderr) when it does not come up.
  bool AddWorker(const std::string& name, int slots, const std::string& executor);
  // Sends `sig` to the worker and reaps it (SIGTERM drains it first).
  void StopWorker(const std::string& name, int sig);
  pid_t WorkerPid(const std::string& name) const;
  pid_t BrokerPid() const;
  const std::string& dir() const { return dir_; }

  // Request/reply over one DEALER, matching rid; nullopt on timeout.
  std::optional<wire::Message> Call(wire::Message request, int timeout_ms = 30000);
  // STATS completed and failed (FAILED + DEAD) counts; {-1, -1} when the broker did not answer.
  std::pair<int64_t, int64_t> Counts();
  size_t WorkerCount();

  zmq::context_t& ctx() { return ctx_; }

 private:
  std::string dir_;
  zmq::context_t ctx_{1};
  std::unique_ptr<TitanProcess> broker_;
  std::map<std::string, std::unique_ptr<TitanProcess>> workers_;
  std::unique_ptr<zmq::socket_t> client_;
  int port_ = 0, pub_port_ = 0;
  std::string endpoint_;
  int64_t next_rid_ = 1;
};

// JOB_SUBMIT bodies built straight into msgpack (no Datum tree), with rid last. With `sha256`, the
// file goes by that hash instead of its content (as the SDK sends a file the broker accepted before).
std::string SubmitBody(const std::vector<std::string>& ids, const JobFile& file, const std::string& args,
                       int64_t rid, const std::string& sha256 = "");

// Sends [delimiter][signature][type][body] on a DEALER.
void SendRaw(zmq::socket_t& s, uint8_t type, const std::string& body);
// Receives one message (dropping a leading delimiter) and decodes it; a DecodeStatus other than kOk
// on garbage. Returns nullopt when nothing arrived within `timeout_ms`.
std::optional<wire::Decoded> RecvDecoded(zmq::socket_t& s, int timeout_ms);

struct StreamResult {
  size_t jobs = 0;            // accepted
  int64_t failed = 0;         // of those, how many ended FAILED or DEAD
  double seconds = 0;         // first submit -> last job final
  double submit_seconds = 0;  // first submit -> last JOB_ACCEPTED
  bool complete = false;      // every job reached a final state before the deadline
  std::string error;          // first ERROR reply or timeout, if any
};

// Submits `n` jobs in JOB_SUBMITs of `batch` jobs with up to `window` requests outstanding, then waits
// until the broker counts all of them finished (COMPLETED or FAILED). Ids are "<prefix>-<i>".
StreamResult SubmitStream(Cluster& cluster, const std::string& prefix, size_t n, size_t batch, size_t window,
                          const JobFile& file, int timeout_s);

}  // namespace titan::bench
