// Descriptors passed over an AF_UNIX socket (SCM_RIGHTS), as the fork server's requests and the reaper's
// hand-over of runs (reaper_runs.h) carry them.
#pragma once

#include <span>
#include <string_view>

namespace titan::exec {

// Sends `bytes` as one message with `fds` attached (none: a plain message). Never blocks, never raises
// SIGPIPE; retries EINTR. Returns 0, or the errno of the failure (EAGAIN: the socket is full; EMSGSIZE:
// the message cannot fit it).
int SendWithFds(int sock, std::string_view bytes, std::span<const int> fds);

}  // namespace titan::exec
