// CURVE for a benchmark run (`--curve`): keys made once in a folder of the run; the nodes the benchmark
// starts get --keys, its workers a worker credential, and every client socket it opens the admin
// credential. Off unless EnableCurve was called: then all of these are no-ops.
#pragma once

#include <string>
#include <vector>
#include <zmq.hpp>

namespace titan::bench {

// Makes keys in `dir` and turns CURVE on for the rest of the run; false after printing why not.
bool EnableCurve(const std::string& dir);
bool CurveOn();
// Makes `s` a CURVE client with the admin credential (before connect); nothing when CURVE is off.
void SecureBenchClient(zmq::socket_t& s);
// {"--keys", DIR} for a store or broker; {} when off.
std::vector<std::string> NodeKeyArgs();
// {"--credentials", FILE} for a worker (a global option: put it before "worker"); {} when off.
std::vector<std::string> WorkerCredentialArgs();

}  // namespace titan::bench
