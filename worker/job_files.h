// Files a job asks for in its own directory before it starts: its uploads (JobSpec.uploads) and its
// working directory (JobSpec.work_dir). Every path is confined to the job directory: relative, no
// "..", and no symbolic link followed on the way (a link planted by an earlier attempt, or by an
// upload's own directory, cannot carry a write outside).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "schemas/generated/messages.h"

namespace titan::exec {

// Writes each upload under `job_dir` (created 0755 directories on the way; the file replaced when it
// exists; permission bits `mode`, 0644 when absent, applied exactly, whatever the umask). Errors name the
// upload: "upload 'a/../b': ...", "cannot write upload 'x': Permission denied".
Status WriteUploads(const std::string& job_dir, const std::vector<wire::Upload>& uploads);

// `job_dir`/`rel`, created (with its parents) when missing; refused like an upload's path. Returns the
// absolute path to start the job in.
Result<std::string> MakeWorkDir(const std::string& job_dir, const std::string& rel);

}  // namespace titan::exec
