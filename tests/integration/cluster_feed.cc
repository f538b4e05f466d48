// The cluster fixture's event feed (the broker's PUB socket) and its waits on files.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"
#include "security/client_security.h"
#include "tests/integration/cluster.h"

namespace titan::testing {

// ---- EventFeed ----

EventFeed::EventFeed(zmq::context_t& ctx, const std::string& endpoint, std::vector<std::string> prefixes,
                     const std::optional<security::Credential>& credential) {
  sub_ = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
  wire::ConfigureSocket(*sub_);
  if (credential) security::SecureClient(*sub_, *credential);
  sub_->set(zmq::sockopt::linger, 0);
  prefixes.push_back("worker.");
  for (const auto& p : prefixes) sub_->set(zmq::sockopt::subscribe, p);
  sub_->connect(endpoint);
}

EventFeed::~EventFeed() = default;

bool EventFeed::Sync(Deadline deadline) { return Next(deadline).has_value(); }

std::optional<Event> EventFeed::Next(Deadline deadline) {
  for (;;) {
    zmq::pollitem_t item{sub_->handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(MillisLeft(deadline))) <= 0) return std::nullopt;
    std::vector<std::string> frames;
    for (;;) {
      zmq::message_t part;
      if (!sub_->recv(part, zmq::recv_flags::dontwait)) break;
      frames.emplace_back(static_cast<const char*>(part.data()), part.size());
      if (!part.more()) break;
    }
    if (frames.size() < 2) continue;
    Event e;
    e.topic = frames.front();
    frames.erase(frames.begin());
    wire::Decoded d = wire::Decode(frames);
    if (d.status != wire::DecodeStatus::kOk) continue;
    e.msg = std::move(d.msg);
    return e;
  }
}

// ---- files ----

bool WaitForFiles(const std::string& dir, const std::function<bool()>& done, Deadline deadline) {
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  std::filesystem::create_directories(dir);
  // Watch first, then check, so nothing created in between is missed.
  const bool watching =
      inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB) >= 0;
  bool ok = false;
  while (watching) {
    if (done()) {
      ok = true;
      break;
    }
    const int64_t left = MillisLeft(deadline);
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
  }
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace titan::testing
