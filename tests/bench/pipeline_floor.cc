// pipeline_floor: the floor under Titan's job path. The same hops with nothing in them: a client's
// submission reaches a broker (ROUTER), which makes it durable (a 4 KiB write per message and one
// fdatasync per turn, as the journal's commit is), answers "accepted" and hands the job to the least
// loaded of its workers (ROUTER to DEALERs, `--slots` jobs each at most); a worker runs it (`--spawn`:
// the program spawned as posix_spawn does, /dev/null as stdin, stdout and stderr, awaited through a pidfd;
// else nothing) and hands it back; the broker makes the result durable the same way and publishes it (PUB),
// where the client's SUB socket sees it. Broker and workers are threads of this process, each owning its
// sockets; the client is whatever connects (peer_bench.py: pyzmq, as the Python SDK).
//
// Prints "ports <submit> <events>" on stdout once every worker is connected and serves until stdin closes.
// With --no-sync, no fdatasync: what the hops cost without the disk. With --cgroups, each spawned program
// first joins a cgroup of its worker in each hierarchy Titan's jobs join (v1: memory, cpuacct, blkio; v2:
// one), as a Titan job joins its own: what that costs a spawn. Needs root; the cgroups are removed at exit.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
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
    const size_t n = std::min(what.size(), kRecord);
    std::memcpy(page_.data(), what.data(), n);
    std::memset(page_.data() + n, ' ', kRecord - n);
    const off_t at = static_cast<off_t>((next_++ % kRingRecords) * kRecord);
    if (::pwrite(fd_, page_.data(), page_.size(), at) != static_cast<ssize_t>(page_.size()))
      throw std::runtime_error("pwrite failed");
    dirty_ = true;
  }
  void Sync() {
    if (sync_ && dirty_ && ::fdatasync(fd_) != 0) throw std::runtime_error("fdatasync failed");
    dirty_ = false;
  }

 private:
  std::string page_ = std::string(kRecord, ' ');  // the record being written, reused
  int fd_ = -1;
  bool sync_;
  bool dirty_ = false;
  uint64_t next_ = 0;
};

// Starts the program with /dev/null as its stdin, stdout and stderr, after it joined the cgroups whose
// cgroup.procs `procs` holds open for writing: clone(CLONE_VM | CLONE_VFORK) as glibc's posix_spawn does,
// with the joins (which posix_spawn has no attribute for) in the child before execve. One per thread: the
// child runs on this object's stack.
class Spawner {
 public:
  Spawner(const std::string& program, std::vector<int> procs)
      : program_(program), procs_(std::move(procs)), stack_(64 * 1024) {
    devnull_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull_ < 0) throw std::runtime_error(std::string("/dev/null: ") + std::strerror(errno));
    argv_[0] = program_.data();
  }
  ~Spawner() { ::close(devnull_); }
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  pid_t Spawn() {
    return ::clone(Child, stack_.data() + stack_.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, this);
  }

 private:
  static int Child(void* arg) {  // async-signal-safe calls only: it shares the parent's memory
    auto* self = static_cast<Spawner*>(arg);
    for (const int fd : self->procs_) {
      if (::write(fd, "0", 1) != 1) ::_exit(126);
    }
    for (int fd = 0; fd < 3; ++fd) ::dup2(self->devnull_, fd);
    ::execve(self->argv_[0], self->argv_, environ);
    ::_exit(127);
  }

  std::string program_;
  std::vector<int> procs_;
  std::vector<char> stack_;
  int devnull_ = -1;
  char* argv_[2] = {nullptr, nullptr};
};

// The cgroups one worker's programs join (--cgroups): made under each hierarchy a Titan job joins, removed
// on destruction (they are empty by then: every program has been waited for).
class WorkerCgroups {
 public:
  explicit WorkerCgroups(const std::string& name) {
    const std::string root = "/sys/fs/cgroup";
    struct statfs fs {};
    const bool v2 = ::statfs(root.c_str(), &fs) == 0 && fs.f_type == 0x63677270;  // CGROUP2_SUPER_MAGIC
    const std::vector<std::string> parents =
        v2 ? std::vector<std::string>{root}
           : std::vector<std::string>{root + "/memory", root + "/cpuacct", root + "/blkio"};
    for (const std::string& parent : parents) {
      const std::string dir = parent + "/" + name;
      if (::mkdir(dir.c_str(), 0755) != 0)
        throw std::runtime_error("cannot create cgroup " + dir + ": " + std::strerror(errno) +
                                 " (needs root)");
      dirs_.push_back(dir);
      const int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open " + dir + "/cgroup.procs: " + std::strerror(errno));
      procs_.push_back(fd);
    }
  }
  ~WorkerCgroups() {
    for (const int fd : procs_) ::close(fd);
    for (const std::string& dir : dirs_) ::rmdir(dir.c_str());
  }
  WorkerCgroups(const WorkerCgroups&) = delete;
  WorkerCgroups& operator=(const WorkerCgroups&) = delete;
  const std::vector<int>& procs() const { return procs_; }

 private:
  std::vector<std::string> dirs_;
  std::vector<int> procs_;
};

int BoundPort(zmq::socket_t& s) {
  const std::string endpoint = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

// A worker: says "ready", then runs each job it is given and sends the job back when it has ended.
void Worker(zmq::context_t& ctx, int port, const std::string& program, const WorkerCgroups* cgroups) try {
  zmq::socket_t broker(ctx, zmq::socket_type::dealer);
  broker.set(zmq::sockopt::linger, 0);
  broker.connect("tcp://127.0.0.1:" + std::to_string(port));
  broker.send(zmq::str_buffer("ready"), zmq::send_flags::none);
  Spawner spawner(program, cgroups != nullptr ? cgroups->procs() : std::vector<int>{});
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
      int status = 0;
      ::waitpid(running[i].pid, &status, 0);
      ::close(running[i].pidfd);
      if (WIFEXITED(status) && WEXITSTATUS(status) >= 126)  // the child's own codes: it never ran the program
        Fail(program +
             " did not start: " + (WEXITSTATUS(status) == 126 ? "joining a cgroup failed" : "execve failed"));
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
      const pid_t pid = spawner.Spawn();
      if (pid < 0) Fail("cannot spawn " + program + ": " + std::strerror(errno));
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
  bool no_sync = false, cgroups = false;
  int workers = 2, slots = 4;
  app.add_option("--dir", dir, "where the journal ring is written (the same file system as Titan's journal)");
  app.add_flag("--no-sync", no_sync, "no fdatasync at the commits");
  app.add_flag("--cgroups", cgroups, "each program joins its worker's cgroups first (needs root)");
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
  std::vector<std::unique_ptr<WorkerCgroups>> worker_cgroups;
  for (int i = 0; i < workers; ++i) {
    if (cgroups) {
      try {
        worker_cgroups.push_back(std::make_unique<WorkerCgroups>(
            "pipeline-floor-" + std::to_string(::getpid()) + "-w" + std::to_string(i)));
      } catch (const std::exception& e) {
        worker_cgroups.clear();  // removes those made
        Fail(e.what());
      }
    }
    std::thread(Worker, std::ref(ctx), BoundPort(to_workers), spawn,
                cgroups ? worker_cgroups.back().get() : nullptr)
        .detach();
  }
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
  worker_cgroups.clear();  // empty now: the client has seen every job's result
  std::_Exit(0);           // the threads block in their sockets
}
