"""A job's resource requests (docs/job-control.md, "Placement and requests"): cores, MB of memory and GPUs
reserved for it on its worker, as JobSpec's cpu_milli, memory_mb and gpus. TitanJob(cpu=1.5, memory=512,
gpus=1), YAML `cpu:`, `memory:`, `gpus:`."""

import math
from typing import Any, Dict, Optional

from .yaml_nodes import Fields

MAX_CORES = 1_000_000
MAX_MEMORY_MB = 1 << 30
MAX_GPUS = 4096


def cpu_milli(cores: float) -> int:
    """Cores (>= 0) as thousandths, halves up: floor(cores * 1000 + 0.5), as the C++ CLI computes it."""
    return int(math.floor(cores * 1000.0 + 0.5))


def _number(job_id: str, name: str, value: Any, limit: float, whole: bool) -> Any:
    ok_type = isinstance(value, int) or (not whole and isinstance(value, float))
    if isinstance(value, bool) or not ok_type or not 0 <= value <= limit:
        raise ValueError("job %r: %s must be %s from 0 to %s; got %r"
                         % (job_id, name, "a whole number" if whole else "a number of cores", limit, value))
    return value


def request_spec(job_id: str, cpu: Optional[float], memory: Optional[int], gpus: Optional[int]) -> Dict[str, int]:
    """The JobSpec fields of the requests given (None or 0: none); ValueError naming a bad one."""
    spec: Dict[str, int] = {}
    if cpu:
        spec["cpu_milli"] = cpu_milli(_number(job_id, "cpu", cpu, MAX_CORES, whole=False))
    if memory:
        spec["memory_mb"] = _number(job_id, "memory", memory, MAX_MEMORY_MB, whole=True)
    if gpus:
        spec["gpus"] = _number(job_id, "gpus", gpus, MAX_GPUS, whole=True)
    return spec


def yaml_requests(job: Fields, spec: Dict[str, Any]) -> None:
    """A YAML job's `cpu` (cores), `memory` (MB) and `gpus` into `spec`; PipelineError naming the line."""
    if job.has("cpu"):
        v = job.values["cpu"].value
        number = (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, float)
        if not number or not 0 <= v <= MAX_CORES:
            raise job.fail(job.line("cpu"), "'cpu' must be a number of cores from 0 to 1000000 (1.5 is allowed) in %s"
                           % job.what)
        spec["cpu_milli"] = cpu_milli(v)
    for key, field in (("memory", "memory_mb"), ("gpus", "gpus")):
        if job.has(key):
            value = job.integer(key)
            if value < 0:
                raise job.fail(job.line(key), "'%s' must be >= 0 in %s" % (key, job.what))
            spec[field] = value
