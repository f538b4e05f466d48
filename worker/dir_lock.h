// DirLock: the lock a worker holds on its data directory (`<--dir>/worker.lock`, flock) for as long as it
// runs. Its reaper (worker_reaper.h) takes the same lock before ending what a killed worker left, so a
// worker restarted on the same --dir and the previous life's reaper never sweep each other's job cgroups:
// whichever takes the lock first ends the leftovers, the other waits (the worker) or has nothing to do
// (the reaper).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::worker {

// `<dir>/worker.lock`.
std::string DirLockPath(const std::string& dir);

// Takes the lock at `path` (created if missing), waiting up to `wait` while another process holds it
// (logged once). The lock lasts as long as the returned descriptor (close-on-exec: no job inherits it, but
// a child between vfork and exec holds a copy for that moment).
// Error: it cannot be opened, or it is still held after `wait` (named, with what to do).
Result<exec::UniqueFd> LockDir(const std::string& path, std::chrono::milliseconds wait);

// Takes the lock at `path` if no other process holds it; nullopt when one does. Error: it cannot be opened
// or locked (named): then nobody holds it either.
Result<std::optional<exec::UniqueFd>> TryLockDir(const std::string& path);

}  // namespace titan::worker
