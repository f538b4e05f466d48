// A job's demand on its worker (what placement matches and reserves) and the validation of its resource
// requests at the broker's edge. Pure: no sockets, no clock.
#pragma once

#include <optional>
#include <string>

#include "broker/dispatch.h"
#include "broker/job.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

// Upper bounds of the requests (JOB_SUBMIT answers INVALID naming the field beyond them): far above any
// machine, far below an overflow when reservations are summed.
inline constexpr int64_t kMaxCpuMilli = 1'000'000'000;            // a million cores
inline constexpr int64_t kMaxRequestMemoryMb = int64_t{1} << 30;  // a pebibyte
inline constexpr int64_t kMaxGpus = 4096;

// What the job's requests reserve (absent or 0: nothing).
Resources RequestOf(const wire::JobSpec& spec);
// The job's demand: its requirement, the controls its limits need (max_memory -> memory, max_cpu -> cpu,
// cpu_cores -> cpuset, max_iobps -> io, max_processes -> pids), its runtime and its requests. The pinned
// worker is left empty: BrokerCore::DemandOf fills it.
Demand DemandOf(const Job& job);

// The refusal of a spec whose requests are out of range (INVALID, naming the job, the field and the range);
// nullopt when they are fine.
std::optional<wire::Message> CheckRequests(const wire::JobSpec& spec);

}  // namespace titan::broker
