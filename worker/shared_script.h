// SharedScript: a DAG job's script placed in the machine's shared folder, as the original Titan did
// (its cwd, `os.path.dirname(__file__)` and the files it writes next to itself are what the next task
// of the DAG sees there), without two different scripts of one name corrupting each other.
//
// Every worker on the machine follows one protocol per script name, with an open-file-description
// lock on <shared>/.titan/<name>.lock:
//  - whoever gets the lock exclusively (no job of this name runs here now) may replace
//    <shared>/<name> (atomically: a temporary file renamed over it), then holds the lock shared;
//  - otherwise a job holds it shared and uses <shared>/<name> only if it holds the same bytes;
//  - a different script of the same name while one runs: the caller places this one in the job's own
//    folder instead (its cwd stays the shared folder).
// The lock is held for the job's whole run and released when the returned descriptor closes (the
// worker loop's RunningJob owns it). Not thread-safe; called from the worker loop only.
#pragma once

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::exec {

struct SharedPlacement {
  std::string path;  // <shared>/<name>
  UniqueFd lock;     // hold while the job runs
};

// Places `content_path`'s bytes as <shared_dir>/<name> and returns it with its lock. When a different
// script of that name is in use here, nothing is placed and the placement has an empty path. Error:
// the shared folder, the lock or the script cannot be written (the message names the file).
Result<SharedPlacement> PlaceShared(const std::string& content_path, const std::string& shared_dir,
                                    const std::string& name);

}  // namespace titan::exec
