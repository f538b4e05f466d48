// The original Titan's raw DAG strings (`titan dag "STRING"`, `dag STRING` in the shell), read into the
// one DAG they submit. Pure: no files, no sockets; cycles and unknown parents are left to the broker.
//
//   DAG     := JOB (';' JOB)* [';']                    whitespace around jobs is ignored
//   JOB     := ID '|' SKILL '|' PAYLOAD '|' PRIORITY '|' DELAY_MS '|' '[' [PARENT (',' PARENT)*] ']'
//              ['|' ('AFFINITY' | 'STICKY')]
//   PAYLOAD := SCRIPT                                  a script deployed in perm_files, by name
//            | 'RUN_PAYLOAD|' FILE '|' BASE64          the script itself, sent as FILE
//
// PAYLOAD may contain pipes, so a job is read outside-in: the flag and the fields after PAYLOAD from the
// right, ID and SKILL from the left, PAYLOAD is what remains. SKILL is the job's requirement, DELAY_MS
// its delay in milliseconds; parents are sent as written (DAG-<id> included).
#pragma once

#include <string>
#include <string_view>

#include "cli/pipeline.h"

namespace titan::cli {

// True with *out filled (no DAG name: the broker names the DAG after its first job; JobSpecs in string
// order; each inline file once), or false with *error naming the job and field, e.g.
// "job 2 ('train'): PRIORITY 'high' is not an integer".
bool ParseDagString(std::string_view text, Pipeline* out, std::string* error);

// Does this `titan dag` argument look like a DAG string rather than a DAG id? (It has a '|'.)
bool IsDagString(std::string_view arg);

}  // namespace titan::cli
