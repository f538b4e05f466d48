// References for jobs_bench, measured in the same run: what the OS and ZeroMQ alone can do.
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <set>
#include <thread>

#include "tests/bench/jobs_parts.h"

extern char** environ;

namespace titan::bench {

double RawSpawnRate(const std::vector<std::string>& argv_in, int inflight, int n) {
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::set<pid_t> live;
  int started = 0, reaped = 0;
  const auto t0 = Clock::now();
  while (reaped < n) {
    while (started < n && static_cast<int>(live.size()) < inflight) {
      pid_t pid = -1;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
        std::fprintf(stderr, "jobs_bench: posix_spawn %s failed\n", argv[0]);
        return 0;
      }
      live.insert(pid);
      ++started;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (live.erase(pid) == 1) ++reaped;
  }
  return reaped / SecondsBetween(t0, Clock::now());
}

double EchoRate(size_t window, double seconds, const std::string& body) {
  zmq::context_t server_ctx(1), client_ctx(1);
  zmq::socket_t router(server_ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 100000);
  router.set(zmq::sockopt::rcvhwm, 100000);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    while (!stop.load()) {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) <= 0) continue;
      // Drain what is queued, like a server loop turn, echoing each multipart message back.
      for (;;) {
        zmq::message_t part;
        if (!router.recv(part, zmq::recv_flags::dontwait)) break;
        bool more = part.more();
        router.send(part, more ? zmq::send_flags::sndmore : zmq::send_flags::none);
        while (more) {
          (void)router.recv(part, zmq::recv_flags::none);
          more = part.more();
          router.send(part, more ? zmq::send_flags::sndmore : zmq::send_flags::none);
        }
      }
    }
  });
  zmq::socket_t dealer(client_ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::sndhwm, 100000);
  dealer.set(zmq::sockopt::rcvhwm, 100000);
  dealer.connect(endpoint);
  auto recv_one = [&] {
    bool more = true;
    while (more) {
      zmq::message_t part;
      (void)dealer.recv(part, zmq::recv_flags::none);
      more = part.more();
    }
  };
  SendRaw(dealer, 0x31, body);  // warm-up: the connection is up once this comes back
  recv_one();
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  size_t outstanding = 0;
  uint64_t done = 0;
  while (Clock::now() < deadline || outstanding > 0) {
    while (outstanding < window && Clock::now() < deadline) {
      SendRaw(dealer, 0x31, body);
      ++outstanding;
    }
    recv_one();
    --outstanding;
    ++done;
  }
  const double rate = static_cast<double>(done) / SecondsBetween(t0, Clock::now());
  stop = true;
  echo.join();
  return rate;
}

}  // namespace titan::bench
