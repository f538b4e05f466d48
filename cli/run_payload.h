// `titan run`'s job-control options for what a job runs and gets (docs/job-control.md): --command,
// --work-dir, --upload, --runtime, --cold-start, --volume.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/submit.h"

namespace titan::cli {

// Adds the options to `cmd`, filling *args (uploads as LOCAL[:PATH] words in *upload_flags).
void AddPayloadOptions(CLI::App* cmd, RunArgs* args, std::vector<std::string>* upload_flags);

// Reads each --upload LOCAL[:PATH] into args->uploads: the file's bytes, its permission bits, PATH (default:
// LOCAL's file name) in the job directory. Empty when all were read; else what is wrong with the first
// that could not be (a missing file, a directory, more than the 1 MiB all uploads of a job may hold).
std::string ReadUploads(const std::vector<std::string>& flags, RunArgs* args);

}  // namespace titan::cli
