// CgroupPool: idle job cgroups, reset and kept for the next job without limits.
#include "worker/cgroup_pool.h"

#include <unistd.h>

#include <utility>

#include "worker/job_cgroup.h"

namespace titan::exec {
namespace {

void Remove(const IdleCgroup& cgroup) {
  for (const std::string& path : cgroup.paths) ::rmdir(path.c_str());
}

bool NoLimits(const JobLimits& l) {
  return l.memory_mb <= 0 && l.cpu_percent <= 0 && l.cpus.empty() && l.iobps <= 0 && l.processes <= 0;
}

}  // namespace

CgroupPool::CgroupPool(const WorkerCgroups& worker) : enabled_(worker.version == CgroupVersion::kV1) {}

CgroupPool::~CgroupPool() {
  for (const IdleCgroup& cgroup : idle_) Remove(cgroup);
}

bool CgroupPool::Fits(const JobLimits& limits) const { return enabled_ && NoLimits(limits); }

std::optional<IdleCgroup> CgroupPool::Take() {
  if (idle_.empty()) return std::nullopt;
  IdleCgroup cgroup = std::move(idle_.back());
  idle_.pop_back();
  return cgroup;
}

std::string CgroupPool::NewName() { return "pool-" + std::to_string(next_name_++); }

bool CgroupPool::Keep(IdleCgroup cgroup) {
  if (!enabled_ || idle_.size() >= kMaxIdle) return false;
  if (idle_.size() >= kMaxWithFiles) cgroup.files.reset();
  Result<CarriedUsage> carried = ResetUsage(CgroupVersion::kV1, cgroup.dirs, cgroup.files.get());
  if (!carried.ok() || carried->memory_bytes > kMaxCarriedBytes) return false;
  cgroup.oom_kills_before = carried->oom_kills;
  idle_.push_back(std::move(cgroup));
  return true;
}

}  // namespace titan::exec
