// YAML pipelines (docs/pipelines.md): a Titan-format or Joblet-format file read into the submission it
// stands for (DAG name, agent run, JobSpecs, files), without sending anything, so the golden cases in
// schemas/golden/pipelines/ check it offline. Used by `titan submit` and `titan schedule add`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec.h"

namespace titan::cli {

// What a pipeline file submits: one DAG.
struct Pipeline {
  std::string dag;
  std::optional<std::string> agent_run_id;
  // JobSpec maps in file order, keyed by the schema's field names; only the fields the YAML gives.
  std::vector<wire::Map> jobs;
  // Each distinct file once, in first-use order: base name -> bytes.
  std::vector<std::pair<std::string, std::string>> files;
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
// *error set; never throws. Cycles, unknown parents and duplicate ids are left to the broker.
bool ParsePipeline(const std::string& path, Pipeline* out, PipelineError* error);

// `word` as one shell word: as it is when made only of letters, digits and -_./=:,+@%, else in single
// quotes with a ' inside written '"'"' (the form both pipeline parsers use; it shapes generated scripts).
std::string PipelineShellQuote(std::string_view word);

// The JOB_SUBMIT that sends the pipeline (jobs, files, dag, and agent_run_id when it has one).
wire::Message BuildPipelineSubmit(const Pipeline& pipeline);

// The SCHEDULE_ADD that runs the pipeline's jobs at each tick of `cron` (its DAG name and agent run do
// not travel: the broker names each tick's DAG <name>@<time>).
wire::Message BuildScheduleAdd(const std::string& name, const std::string& cron, const Pipeline& pipeline);

}  // namespace titan::cli
