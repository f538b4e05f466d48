// pipeline_floor: the floor under Titan's job path. The same hops with nothing in them: a client's
// submission reaches a broker (ROUTER), which makes it durable (a 4 KiB write per message and one
// fdatasync per turn, as the journal's commit is), answers "accepted" and hands the job to the least
// loaded of its workers (ROUTER to DEALERs, `--slots` jobs each at most); a worker runs it (`--spawn`:
// posix_spawn of the program with /dev/null as stdin, stdout and stderr, awaited through a pidfd; else
// nothing) and hands it back; the broker makes the result durable the same way and publishes it (PUB),
// where the client's SUB socket sees it. Broker and workers are threads of this process, each owning its
// sockets; the client is whatever connects (peer_bench.py: pyzmq, as the Python SDK).
//
// Prints "ports <submit> <events>" on stdout once every worker is connected and serves until stdin closes.
// With --no-sync, no fdatasync: what the hops cost without the disk.
#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

extern char** environ;

namespace titan::bench {
namespace {

constexpr size_t kRecord = 4096;      // one journal page per message
constexpr size_t kRingRecords = 256;  // records rewritten in a ring, as a WAL is after its first checkpoint

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "pipeline_floor: %s\n", what.c_str());
  std::_Exit(1);
}

// The "journal": a preallocated file whose records are overwritten in turn; Sync makes them durable.
class Ring {
 public:
  Ring(const std::string& path, bool sync) : sync_(sync) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    const std::string zeros(kRecord * kRingRecords, '\0');
    if (::pwrite(fd_, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()) ||
        ::fsync(fd_) != 0)
      throw std::runtime_error("cannot write " + path);
  }
  ~Ring() { ::close(fd_); }
  void Append(const zmq::message_t& what) {
    std::string page(kRecord, ' ');
    const size_t n = std::min(what.size(), kRecord);
    page.replace(0, n, what.data<char>(), n);
    const off_t at = static_cast<off_t>((next_++ % kRingRecords) * kRecord);
    if (::pwrite(fd_, page.data(), page.size(), at) != static_cast<ssize_t>(page.size()))
      throw std::runtime_error("pwrite failed");
    dirty_ = true;
  }
  void Sync() {
    if (sync_ && dirty_ && ::fdatasync(fd_) != 0) throw std::runtime_error("fdatasync failed");
    dirty_ = false;
  }

 private:
  int fd_ = -1;
  bool sync_;
  bool dirty_ = false;
  uint64_t next_ = 0;
};

int BoundPort(zmq::socket_t& s) {
  const std::string endpoint = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

// A worker: says "ready", then runs each job it is given and sends the job back when it has ended.
void Worker(zmq::context_t& ctx, int port, const std::string& program) try {
  zmq::socket_t broker(ctx, zmq::socket_type::dealer);
  broker.set(zmq::sockopt::linger, 0);
  broker.connect("tcp://127.0.0.1:" + std::to_string(port));
  broker.send(zmq::str_buffer("ready"), zmq::send_flags::none);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd = 0; fd < 3; ++fd) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  struct Running {
    pid_t pid;
    int pidfd;
    zmq::message_t job;
  };
  std::vector<Running> running;
  std::vector<zmq::pollitem_t> items;
  for (;;) {
    items.assign(1, {broker.handle(), 0, ZMQ_POLLIN, 0});
    for (const Running& r : running) items.push_back({nullptr, r.pidfd, ZMQ_POLLIN, 0});
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
    for (size_t i = running.size(); i-- > 0;) {
      if (!(items[i + 1].revents & ZMQ_POLLIN)) continue;
      ::waitpid(running[i].pid, nullptr, 0);
      ::close(running[i].pidfd);
      broker.send(running[i].job, zmq::send_flags::none);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
    while (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t job;
      if (!broker.recv(job, zmq::recv_flags::dontwait)) break;
      if (program.empty()) {
        broker.send(job, zmq::send_flags::none);
        continue;
      }
      pid_t pid = -1;
      if (const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ); rc != 0)
        Fail("cannot spawn " + program + ": " + std::strerror(rc));
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
      if (pidfd < 0) Fail(std::string("pidfd_open: ") + std::strerror(errno));
      running.push_back(Running{pid, pidfd, std::move(job)});
    }
  }
} catch (const std::exception& e) {
  Fail(e.what());
}

// The broker's loop. Each turn reads what has arrived, journals it with one Sync, then answers, publishes
// and dispatches (least loaded worker first, at most `slots` jobs each).
class Broker {
 public:
  Broker(zmq::socket_t& clients, zmq::socket_t& workers, zmq::socket_t& events, Ring& journal, int slots)
      : clients_(clients), workers_(workers), events_(events), journal_(journal), slots_(slots) {}

  void WaitForWorkers(size_t n) {
    while (load_.size() < n) {
      zmq::message_t who, ready;
      if (workers_.recv(who) && who.more() && workers_.recv(ready)) load_[who.to_string()] = 0;
    }
  }

  [[noreturn]] void Run() {
    zmq::pollitem_t items[] = {{clients_.handle(), 0, ZMQ_POLLIN, 0}, {workers_.handle(), 0, ZMQ_POLLIN, 0}};
    std::vector<std::pair<zmq::message_t, zmq::message_t>> accepted;  // (client, job)
    std::vector<zmq::message_t> results;
    for (;;) {
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
      for (;;) {  // this turn's messages
        zmq::message_t who, body;
        if (clients_.recv(who, zmq::recv_flags::dontwait)) {
          if (!who.more() || !clients_.recv(body)) continue;
          journal_.Append(body);
          accepted.emplace_back(std::move(who), std::move(body));
        } else if (workers_.recv(who, zmq::recv_flags::dontwait)) {
          if (!who.more() || !workers_.recv(body)) continue;
          journal_.Append(body);
          --load_[who.to_string()];
          results.push_back(std::move(body));
        } else {
          break;
        }
      }
      journal_.Sync();
      for (auto& [who, job] : accepted) {
        clients_.send(who, zmq::send_flags::sndmore);
        clients_.send(zmq::str_buffer("accepted"), zmq::send_flags::none);
        queue_.push_back(std::move(job));
      }
      accepted.clear();
      for (zmq::message_t& result : results) events_.send(result, zmq::send_flags::none);
      results.clear();
      Dispatch();
    }
  }

 private:
  void Dispatch() {
    while (!queue_.empty()) {
      auto least = std::min_element(load_.begin(), load_.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; });
      if (least == load_.end() || least->second >= slots_) return;
      workers_.send(zmq::buffer(least->first), zmq::send_flags::sndmore);
      workers_.send(queue_.front(), zmq::send_flags::none);
      queue_.pop_front();
      ++least->second;
    }
  }

  zmq::socket_t& clients_;
  zmq::socket_t& workers_;
  zmq::socket_t& events_;
  Ring& journal_;
  int slots_;
  std::map<std::string, int> load_;  // jobs each worker runs
  std::deque<zmq::message_t> queue_;
};

}  // namespace
}  // namespace titan::bench

int main(int argc, char** argv) {
  using namespace titan::bench;
  CLI::App app{"The floor under Titan's job path (see the file's comment)"};
  std::string dir = "/tmp", spawn;
  bool no_sync = false;
  int workers = 2, slots = 4;
  app.add_option("--dir", dir, "where the journal ring is written (the same file system as Titan's journal)");
  app.add_flag("--no-sync", no_sync, "no fdatasync at the commits");
  app.add_option("--spawn", spawn, "each job runs this program (absolute path); none: a job does nothing");
  app.add_option("--workers", workers, "worker threads")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--slots", slots, "jobs each worker runs at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  zmq::context_t ctx(1);
  zmq::socket_t clients(ctx, zmq::socket_type::router), to_workers(ctx, zmq::socket_type::router),
      events(ctx, zmq::socket_type::pub);
  for (zmq::socket_t* s : {&clients, &to_workers, &events}) {
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::sndhwm, 0);
    s->bind("tcp://127.0.0.1:*");
  }
  std::unique_ptr<Ring> journal;
  try {
    journal = std::make_unique<Ring>(dir + "/pipeline_floor.ring", !no_sync);
  } catch (const std::exception& e) {
    Fail(e.what());
  }
  for (int i = 0; i < workers; ++i) std::thread(Worker, std::ref(ctx), BoundPort(to_workers), spawn).detach();
  auto broker = std::make_unique<Broker>(clients, to_workers, events, *journal, slots);
  broker->WaitForWorkers(static_cast<size_t>(workers));
  std::thread([&broker] {
    try {
      broker->Run();
    } catch (const std::exception& e) {
      Fail(e.what());
    }
  }).detach();
  std::printf("ports %d %d\n", BoundPort(clients), BoundPort(events));
  std::fflush(stdout);
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {
  }
  ::unlink((dir + "/pipeline_floor.ring").c_str());
  std::_Exit(0);  // the threads block in their sockets
}
