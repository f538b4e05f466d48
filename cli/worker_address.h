// Workers as the original Titan named them: by the machine they run on and a port (`shutdown HOST PORT`,
// `deploy Worker.jar PORT`). Pure functions over what STATS reports; no sockets, no name lookups.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::cli {

struct WorkerAddress {
  std::string name, host;  // host: the worker machine's hostname, as its WORKER_READY said
  int64_t port = 0;        // 0: the worker has no address port
};

// The workers of a STATS reply.
std::vector<WorkerAddress> WorkersFromStats(const wire::StatsMsg& stats);

// localhost, 127.x.x.x or ::1.
bool IsLoopback(std::string_view host);

// The hostname of the broker's machine as far as a client knows it: `local_hostname` (this machine's)
// when the client reaches the broker at a loopback address, else the address it reaches it by.
std::string BrokerMachine(std::string_view broker_host, std::string_view local_hostname);

// Does the user's `host` name the machine `worker_host`? Names compare without case, and a full name
// matches its first label (node1.lan ~ node1). localhost, 127.x.x.x and ::1 name `broker_machine`,
// the hostname of the broker's machine as far as the CLI knows it.
bool SameMachine(std::string_view host, std::string_view worker_host, std::string_view broker_machine);

// The name of the worker with address port `port` on `host`, or false with *error saying what was
// looked for and listing the known workers with their host:port.
bool FindWorkerAt(const std::vector<WorkerAddress>& workers, std::string_view host, int64_t port,
                  std::string_view broker_machine, std::string* name, std::string* error);

// `shutdown WORD`: the worker named `word`; else, when `word` is a port (the original's `shutdown <port>`),
// the one worker with that address port, on any machine. False with *error when no worker has that name
// or port (listing the known workers), or when workers on several machines have that port (naming them:
// `shutdown HOST PORT` tells them apart).
bool FindShutdownTarget(const std::vector<WorkerAddress>& workers, std::string_view word, std::string* name,
                        std::string* error);

// Is `file` the original's worker executable (basename Worker.jar, any case)? `deploy` of it adds a worker.
bool IsWorkerJar(std::string_view file);

}  // namespace titan::cli
