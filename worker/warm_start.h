// Warm starts of .py jobs: which jobs may be forked from a warm interpreter (worker/fork_server.h)
// rather than started cold, and which fork server fits a job. Pure decisions: no processes, no clock.
#pragma once

#include <string>
#include <vector>

namespace titan::exec {

// Why a job starts the way it does.
struct WarmChoice {
  bool warm = false;
  std::string reason;  // when cold: why ("the job asked for a cold start", "not a .py script", ...)
};

// A job whose argv is `python script.py args...` (`python` the interpreter its Toolchain chose for .py
// files) may start warm unless the job (JobSpec.cold_start) or the worker (--cold-python) asks for cold.
WarmChoice ChooseStart(const std::vector<std::string>& argv, const std::string& python, bool job_cold,
                       bool worker_cold);

// True for the variables a Python interpreter reads as it starts (PYTHON*, and the locale: LANG, LC_*),
// which a fork cannot change afterwards; a job runs warm only in a server started with the same values.
bool IsStartupVariable(const std::string& key_value);

// The environment a fork server is started with for a job with environment `env` ("KEY=VALUE" each,
// later entries win): its startup variables plus PATH and HOME, nothing else (no secrets, no TITAN_*).
std::vector<std::string> ServerEnvironment(const std::vector<std::string>& env);

// Identifies the fork server a job can be forked from: the interpreter and its startup variables.
std::string ServerKey(const std::string& python, const std::vector<std::string>& env);

}  // namespace titan::exec
