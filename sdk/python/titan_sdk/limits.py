# A job's resource limits (docs/job-control.md, "Limits"): max_memory (MB), max_cpu (percent of one core:
# 150 = one and a half cores), cpu_cores ("0-1", "2,4"), max_iobps (bytes/s per disk) and max_processes,
# from TitanJob(...) or a YAML job into its JobSpec. The broker checks their ranges; a worker enforces them
# with cgroups and reports the run's usage (JobInfo.usage).
from typing import Any, Dict

INT_LIMITS = ("max_memory", "max_cpu", "max_iobps", "max_processes")
LIMIT_KEYS = ("max_memory", "max_cpu", "cpu_cores", "max_iobps", "max_processes")


def limit_spec(job: Any) -> Dict[str, Any]:
    """The JobSpec fields of the limits set on `job` (a TitanJob); TypeError/ValueError for a wrong one."""
    spec: Dict[str, Any] = {}
    for key in INT_LIMITS:
        value = getattr(job, key, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("job %r: %s must be an int; got %r" % (job.job_id, key, value))
        if value < 0:
            raise ValueError("job %r: %s must be >= 0 (0: no limit); got %d" % (job.job_id, key, value))
        if value:
            spec[key] = value
    cores = getattr(job, "cpu_cores", None)
    if cores is not None:
        if isinstance(cores, bool) or not isinstance(cores, (str, int)):
            raise TypeError("job %r: cpu_cores must be a CPU list such as \"0-1\" or \"2,4\"; got %r"
                            % (job.job_id, cores))
        if str(cores):
            spec["cpu_cores"] = str(cores)
    return spec


def yaml_limits(job: Any, spec: Dict[str, Any]) -> None:
    """The limit keys of a YAML job (a yaml_nodes.Fields) into `spec`; a PipelineError names the line."""
    for key in INT_LIMITS:
        if job.has(key):
            value = job.integer(key)
            if value < 0:
                raise job.fail(job.line(key), "'%s' must be >= 0 (0: no limit) in %s; got %d" % (key, job.what, value))
            if value:
                spec[key] = value
    if job.has("cpu_cores"):
        value = job.values["cpu_cores"].value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise job.fail(job.line("cpu_cores"), "'cpu_cores' must be a CPU list such as \"0-1\" or \"2,4\" in %s"
                           % job.what)
        spec["cpu_cores"] = str(value)
