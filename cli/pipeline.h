// YAML pipelines (docs/pipelines.md): a Titan-format or Joblet-format file read into the submission it
// stands for (DAG name, agent run, JobSpecs, files), without sending anything, so the golden cases in
// schemas/golden/pipelines/ check it offline. Used by `titan submit` and `titan schedule add`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// A folder to zip and deploy to perm_files before the submission is sent: the YAML file's folder, for
// the jobs that name their script with `file` while `project` is true (docs/pipelines.md). Their
// JobSpecs are archive jobs with file "<name>/<path inside the folder>".
struct PipelineProject {
  std::string folder;  // absolute
  std::string name;    // ProjectZipName(dag): the zip's name in perm_files
};

// What a pipeline file submits: one DAG.
struct Pipeline {
  std::string dag;
  std::optional<std::string> agent_run_id;
  // The JobSpecs in file order; only the fields the YAML gives are set.
  std::vector<wire::JobSpec> jobs;
  // Each distinct file once, in first-use order: base name -> bytes.
  std::vector<std::pair<std::string, std::string>> files;
  // Set when some job runs from the project; the caller uploads it first (see submit_command.cc).
  std::optional<PipelineProject> project;
};

// Why a file is not a pipeline. `line` is 1-based; 0 when no line applies (the file cannot be read,
// the files are too large together).
struct PipelineError {
  std::string file;  // the path as the caller gave it
  int line = 0;
  std::string what;
  // "<file>:<line>: <what>", or "<file>: <what>" when line is 0.
  std::string Message() const;
};

// Reads the pipeline at `path` (scripts relative to its folder). True with *out filled, or false with
// *error set; never throws, sends nothing, writes nothing. Cycles, unknown parents and duplicate ids
// are left to the broker.
bool ParsePipeline(const std::string& path, Pipeline* out, PipelineError* error);

// The project zip's name for the pipeline named `dag`: "<dag>.zip" with every character (code point)
// outside [A-Za-z0-9._-] replaced by one '_'. "Nightly ETL/v2" -> "Nightly_ETL_v2.zip".
std::string ProjectZipName(std::string_view dag);

// `word` as one shell word: as it is when made only of letters, digits and -_./=:,+@%, else in single
// quotes with a ' inside written '"'"' (the form both pipeline parsers use; it shapes generated scripts).
std::string PipelineShellQuote(std::string_view word);

// The JOB_SUBMIT that sends the pipeline (jobs, files, dag, and agent_run_id when it has one).
wire::Message BuildPipelineSubmit(const Pipeline& pipeline);

// The SCHEDULE_ADD that runs the pipeline's jobs at each tick of `cron`, with the pipeline's own name as
// `dag` (each tick's DAG is <dag>@<time>). Its agent run does not travel.
wire::Message BuildScheduleAdd(const std::string& name, const std::string& cron, const Pipeline& pipeline);

}  // namespace titan::cli
