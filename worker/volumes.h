// Volumes on a worker (docs/job-control.md, "Volumes"): each is the directory <volumes dir>/<name>
// (<--dir>/volumes), kept across worker restarts until the broker says to delete it. Jobs are processes,
// not containers, so a job using "NAME:/path" gets the directory in TITAN_VOLUME_<NAME> and a symbolic
// link <job dir>/<path without its leading '/'> to it.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "schemas/generated/messages.h"

namespace titan::exec {

// Makes the volume's directory when missing (its data is kept when it exists). A "memory" volume with a
// size is a tmpfs of that size mounted there when this process may mount one (root); otherwise a plain
// directory, and the returned note says its size is not enforced. Error: the directory cannot be made.
Result<std::string> EnsureVolume(const std::string& volumes_dir, const wire::VolumeSpec& volume);

// Deletes the volume's directory and everything in it (a tmpfs is unmounted first). Absent: fine.
Status DeleteVolume(const std::string& volumes_dir, const std::string& name);

// For each "NAME:/path" of a job: TITAN_VOLUME_<NAME>=<dir> appended to `env`, and the link <job_dir>/
// <path> -> <dir> made (replacing an earlier attempt's link; its parent directories created inside
// job_dir). A volume whose directory is missing is made (a plain directory). Errors name the volume.
Status AttachVolumes(const std::string& job_dir, const std::string& volumes_dir,
                     const std::vector<std::string>& mounts, std::vector<std::string>* env);

}  // namespace titan::exec
