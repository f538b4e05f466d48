// The wait loop of `titan submit --wait`: the broker's PUB feed says when to look, DAG_GET says what is.
#include "cli/dag_wait.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cli/dag_view.h"
#include "cli/log_follow.h"
#include "schemas/cpp/transport.h"

namespace titan::cli {
namespace {

// With nothing on the feed for this long, ask the broker anyway (an event published before the
// subscription took effect must not leave us waiting forever).
constexpr int kQuietCheckMs = 2000;
constexpr int kWaitSliceMs = 2000;  // the JOB_WAIT timeout when the broker has no event feed
constexpr size_t kTailLines = 20;
constexpr size_t kTailBytes = 64 * 1024;

int GetDag(BrokerClient& broker, const std::string& id, DagDetail* out) {
  wire::DagInfoMsg reply;
  if (const int rc = broker.Call(wire::DagGetMsg{.id = id}.ToMessage(), &reply); rc != kExitOk) return rc;
  if (!reply.found) {
    std::cerr << "titan: the broker no longer knows DAG '" << id << "' (see `titan dags`)\n";
    return kExitNotFound;
  }
  *out = DagDetailFrom(reply);
  return kExitOk;
}

// What the user sees while waiting, on stdout.
class Screen {
 public:
  explicit Screen(bool terminal) : terminal_(terminal) {}

  void Show(const DagDetail& d) {
    bool printed = false;
    for (const DagWatch::Change& c : watch_.Update(d.jobs)) {
      if (!terminal_) {
        std::printf("%s\n", c.line.c_str());
      } else if (c.notable) {
        std::printf("\r\033[K%s\n", c.line.c_str());
        printed = true;
      }
    }
    std::string progress = RenderProgress(d.jobs);
    if (winsize ws{}; terminal_ && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
                      progress.size() >= ws.ws_col) {
      progress.resize(ws.ws_col - 1);  // a wrapped line could not be rewritten in place
    }
    if (terminal_ && (printed || progress != shown_)) {
      std::printf("\r\033[K%s", progress.c_str());
      shown_ = progress;
      drawn_ = true;
    }
    std::fflush(stdout);
  }

  // Ends the progress line, so what follows starts on a line of its own.
  void Close() {
    if (drawn_) std::printf("\n");
    std::fflush(stdout);
    drawn_ = false;
  }

 private:
  bool terminal_;
  bool drawn_ = false;
  std::string shown_;  // the progress line on screen
  DagWatch watch_;
};

// Returns when an event about one of `topics` has arrived (the rest queued behind it are drained) or
// after kQuietCheckMs.
void AwaitEvent(zmq::socket_t& sub, const std::set<std::string>& topics) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kQuietCheckMs);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, left) == 0) return;
    bool ours = false;
    for (zmq::multipart_t frames; frames.recv(sub, ZMQ_DONTWAIT); frames.clear()) {
      if (!frames.empty() && topics.count(frames[0].to_string())) ours = true;
    }
    if (ours) return;
  }
}

int FollowFeed(BrokerClient& broker, const std::string& pub, const std::string& dag_id,
               const std::vector<std::string>& ids, Screen& screen, DagDetail* d) {
  zmq::context_t ctx{1};
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  wire::ConfigureSocket(sub);
  sub.set(zmq::sockopt::linger, 0);
  broker.SecureSubscriber(sub);
  std::set<std::string> topics;
  for (const std::string& id : ids) {
    topics.insert("job." + id);
    sub.set(zmq::sockopt::subscribe, "job." + id);
  }
  sub.connect(pub);
  for (;;) {  // subscribed first, then looked: a change after the look wakes us
    if (const int rc = GetDag(broker, dag_id, d); rc != kExitOk) return rc;
    screen.Show(*d);
    if (d->dag.state != "RUNNING") return kExitOk;
    AwaitEvent(sub, topics);
  }
}

// Without an event feed: JOB_WAIT on the first unfinished job (it returns early when that job ends).
int FollowByWaiting(BrokerClient& broker, const std::string& dag_id, Screen& screen, DagDetail* d) {
  for (;;) {
    if (const int rc = GetDag(broker, dag_id, d); rc != kExitOk) return rc;
    screen.Show(*d);
    if (d->dag.state != "RUNNING") return kExitOk;
    std::string next;
    for (const JobView& j : d->jobs) {
      const bool up = j.job_type == "SERVICE" && j.ready;  // JOB_WAIT would answer at once: not waited on
      if (!IsFinalState(j.state) && !up && next.empty()) next = j.id;
    }
    if (next.empty()) next = d->jobs.front().id;  // only services that went down again: a slice of waiting
    wire::JobInfoMsg reply;
    const int rc = broker.Call(wire::JobWaitMsg{.id = next, .timeout_ms = kWaitSliceMs}.ToMessage(), &reply,
                               kWaitSliceMs + broker.target().timeout_ms);
    if (rc != kExitOk) return rc;
  }
}

// The outcome: a line on stdout when the DAG completed, else each culprit with its log tail on stderr.
int Report(BrokerClient& broker, const DagDetail& d) {
  const DagView& dag = d.dag;
  const std::string took = FormatDuration(dag.finished_ms.value_or(dag.submitted_ms) - dag.submitted_ms);
  if (dag.state == "COMPLETED") {
    std::printf("dag %s COMPLETED: %lld jobs in %s\n", dag.id.c_str(), static_cast<long long>(dag.jobs),
                took.c_str());
    return kExitOk;
  }
  for (const JobView& j : CulpritJobs(d.jobs)) {
    std::string tail;
    if (j.kind != "GATE" && j.started_ms && ReadLogTail(broker, j.id, kTailBytes, &tail) == kExitOk) {
      tail = LastLines(tail, kTailLines);
    }
    std::cerr << RenderCulprit(j, tail);
  }
  std::cerr << "titan: dag " << dag.id << " " << dag.state << " after " << took << ": " << dag.failed
            << " of " << dag.jobs << " jobs did not complete (`titan dag " << dag.id << "` shows each)\n";
  return kExitFailed;
}

}  // namespace

int WaitForDag(BrokerClient& broker, const std::string& dag_id, const std::vector<std::string>& ids,
               bool terminal) {
  Screen screen(terminal);
  DagDetail d;
  std::string pub;
  if (const int rc = broker.PubEndpoint(&pub); rc == kExitNoAnswer) return rc;
  int rc = kExitOk;
  if (pub.empty()) {
    rc = FollowByWaiting(broker, dag_id, screen, &d);
  } else {
    try {
      rc = FollowFeed(broker, pub, dag_id, ids, screen, &d);
    } catch (const zmq::error_t& e) {
      std::cerr << "titan: event feed " << pub << ": " << e.what() << "; following by polling instead\n";
      rc = FollowByWaiting(broker, dag_id, screen, &d);
    }
  }
  screen.Close();
  return rc == kExitOk ? Report(broker, d) : rc;
}

}  // namespace titan::cli
