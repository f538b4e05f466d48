# YAML pipelines (docs/pipelines.md): parse() reads a Titan-format or Joblet-format file into the
# Submission it stands for (DAG name, agent run, JobSpecs, files, the project to deploy), without sending
# anything, so the golden cases in schemas/golden/pipelines/ can check it offline. Errors are
# PipelineErrors naming the line. The C++ parser (cli/pipeline.cc) follows the same rules.
import dataclasses
import os
import re
from typing import Any, Dict, List, Optional, Union

from .errors import PipelineError
from .limits import LIMIT_KEYS, yaml_limits
from .pipeline_files import PipelineFiles
from .requests import yaml_requests
from .yaml_nodes import Fields, Node, load

TITAN_TOP_KEYS = ("name", "agent_run_id", "jobs", "version", "project")
JOBLET_TOP_KEYS = ("version", "name", "jobs")
TITAN_JOB_KEYS = ("id", "script", "file", "type", "args", "dependencies", "depends_on", "priority", "delay",
                  "requirement", "affinity", "port", "retries", "timeout", "env", "secret_env", "hitl_message",
                  "max_wait_seconds", "on_worker_lost", "cpu", "memory", "gpus", "runtime", "work_dir",
                  "volumes", "cold_start") + LIMIT_KEYS
JOBLET_JOB_KEYS = ("name", "command", "args", "runtime", "depends_on", "environment", "requirement", "priority",
                   "retries", "timeout", "secret_environment", "on_worker_lost", "cpu", "memory", "gpus", "work_dir",
                   "volumes", "cold_start") + LIMIT_KEYS
ON_WORKER_LOST = ("requeue", "fail")  # JobSpec.on_worker_lost
JOB_TYPES = {"RUN_PAYLOAD": False, "TASK": False, "RUN": False, "SERVICE": True}  # upper-cased -> a service?
INTERPRETERS = ("python", "python3", "bash", "sh")  # a Joblet command whose args[0] may be the script itself
MAX_NAME_COMPONENT = 255  # artifacts.MAX_COMPONENT_BYTES: the project zip's name must fit one
_SAFE_WORD = re.compile(r"[A-Za-z0-9\-_./=:,+@%]+")
_UNSAFE_NAME_CHAR = re.compile(r"[^A-Za-z0-9._-]")


@dataclasses.dataclass
class Project:
    """A folder to zip and deploy to perm_files as `name` before the submission is sent: the YAML file's
    folder, for the jobs that name their script with `file` while `project` is true. Their JobSpecs are
    archive jobs with file "<name>/<path inside the folder>"."""

    folder: str  # absolute
    name: str    # project_zip_name(dag)


@dataclasses.dataclass
class Submission:
    """What a pipeline file submits: one DAG. `jobs` are JobSpec dicts in file order (fields only where the
    YAML gives them); `files` maps each file's base name to its bytes, in first-use order; `project` is set
    when some job runs from the project, which the caller uploads first (TitanClient.submit_yaml does)."""

    dag: str
    agent_run_id: Optional[str]
    jobs: List[Dict[str, Any]]
    files: Dict[str, bytes]
    project: Optional[Project] = None

    def submit_fields(self) -> Dict[str, Any]:
        """The fields of the JOB_SUBMIT that sends it."""
        return {"jobs": self.jobs, "files": [{"name": n, "content": c} for n, c in self.files.items()],
                "dag": self.dag, "agent_run_id": self.agent_run_id}


def project_zip_name(dag: str) -> str:
    """The project zip's name for the pipeline named `dag`: "<dag>.zip" with every character outside
    [A-Za-z0-9._-] replaced by one '_'. "Nightly ETL/v2" -> "Nightly_ETL_v2.zip"."""
    return _UNSAFE_NAME_CHAR.sub("_", dag) + ".zip"


def parse(path: Union[str, os.PathLike], name: Optional[str] = None) -> Submission:
    """Reads the pipeline at `path`. Raises PipelineError ("<file>:<line>: <what>") for a file that does not
    follow docs/pipelines.md, or one it cannot read; TooLargeError when its files do not fit one message.
    `name`: the DAG's name when the file gives none (parse_text)."""
    file = os.fspath(path)
    try:
        with open(file, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise PipelineError(file, 0, "cannot read the pipeline: %s" % (getattr(e, "strerror", None) or e)) from None
    return parse_text(text, os.path.dirname(os.path.abspath(file)), file, name)


def parse_text(text: str, folder: Union[str, os.PathLike], file: str = "(pipeline text)",
               name: Optional[str] = None) -> Submission:
    """Reads a pipeline given as text, as parse() reads a file in `folder`: the scripts it names are relative to
    `folder`, which is the project of its `file` jobs. `file` names the text in PipelineErrors. `name`: the DAG's
    name when the text gives none (Joblet's run_workflow names its workflow so; the text's own name wins)."""
    return _Parser(file, os.path.abspath(os.fspath(folder)), name).parse(load(text, file))


def shell_quote(word: str) -> str:
    """The word as one shell word: as it is when made only of letters, digits and -_./=:,+@%, else in
    single quotes (a ' inside becomes '"'"')."""
    if _SAFE_WORD.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _ascii_upper(text: str) -> str:
    """`text` upper-cased when it is all ASCII; as it is otherwise (so that no other letter folds into one)."""
    return text.upper() if text.isascii() else text


def _uses_file(job: Fields) -> bool:
    """Which key names the job's file: False for `script`, True for `file` (the original SDK's spelling).
    An error when both or neither is given, and when both spellings of the parents are."""
    script, file = job.has("script"), job.has("file")
    if script and file:
        raise job.fail(max(job.line("script"), job.line("file")), "%s gives both 'script' and 'file'; give one "
                       "('script' sends the file with the DAG, 'file' runs it from the project)" % job.what)
    if not script and not file:
        raise job.fail(job.node.line, "%s needs 'script' or 'file' (the file to run, relative to this YAML "
                       "file's folder)" % job.what)
    if job.has("dependencies") and job.has("depends_on"):
        raise job.fail(max(job.line("dependencies"), job.line("depends_on")), "%s gives both 'dependencies' and "
                       "'depends_on'; they are two spellings of its parents, give one" % job.what)
    return file


def _add_job_type(job: Fields, spec: Dict[str, Any]) -> bool:
    """The job's `type`: True for a service. Writes job_type only for a service (a normal run is the default)."""
    if not job.has("type"):
        return False
    kind = job.text("type")
    service = JOB_TYPES.get(_ascii_upper(kind))
    if service is None:
        raise job.fail(job.line("type"), "'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept "
                       "running), in any case, in %s; got '%s'" % (job.what, kind))
    if service:
        spec["job_type"] = "SERVICE"
    return service


class _Parser:
    def __init__(self, file: str, folder: str, default_name: Optional[str] = None):
        self.file = file
        self.default_name = default_name
        self.files = PipelineFiles(file, folder)
        self.project = True        # the pipeline's `project`
        self.uses_project = False  # some job runs from the project
        self.project_zip = ""

    def parse(self, root: Node) -> Submission:
        if not isinstance(root.value, dict):
            raise PipelineError(self.file, root.line, "a pipeline is a mapping with 'name' and 'jobs'")
        top = Fields(root, self.file, "the pipeline")
        top.require("jobs", "a list of jobs")
        jobs = top.values["jobs"]
        if not isinstance(jobs.value, list) or not jobs.value:
            raise PipelineError(self.file, jobs.line, "'jobs' must be a list of at least one job")
        joblet = self._is_joblet(jobs.value)
        top.check_keys(JOBLET_TOP_KEYS if joblet else TITAN_TOP_KEYS)
        if self.default_name is not None and not top.has("name"):
            name = self.default_name
        else:
            top.require("name", "the DAG's name")
            name = top.text("name")
        run = None if joblet else self._titan_top_keys(top)
        self.project_zip = project_zip_name(name)
        specs = [self._joblet_job(j, i) if joblet else self._titan_job(j, i) for i, j in enumerate(jobs.value, 1)]
        project = self._project(top) if self.uses_project else None
        self.files.check_fit()
        return Submission(name, run, specs, dict(self.files.files), project)

    def _is_joblet(self, jobs: List[Node]) -> bool:
        by_id = by_name = None
        for i, job in enumerate(jobs, 1):
            if not isinstance(job.value, dict):
                raise PipelineError(self.file, job.line, "job #%d must be a mapping (id: ..., script: ...)" % i)
            by_id = by_id or ("id" in job.value and job)
            by_name = by_name or ("name" in job.value and job)
        if by_id and by_name:
            later = max(by_id, by_name, key=lambda n: n.line)
            raise PipelineError(self.file, later.line, "jobs mix 'id' (Titan format) and 'name' (Joblet format); "
                                "use one format for the whole file")
        return bool(by_name)

    def _titan_top_keys(self, top: Fields) -> Optional[str]:
        """agent_run_id (returned); `version` (any string or number, ignored) and `project` (default true)."""
        run = top.text("agent_run_id") if top.has("agent_run_id") else None
        if top.has("version"):
            v = top.values["version"].value
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise top.fail(top.line("version"), "'version' must be a string or a number in the pipeline (it is "
                               "accepted and ignored)")
        if top.has("project"):
            self.project = top.flag("project")
        return run

    def _project(self, top: Fields) -> Project:
        if len(self.project_zip) > MAX_NAME_COMPONENT:
            raise top.fail(top.line("name"), "the pipeline's name is too long to name its project zip ('%s...', "
                           "more than %d bytes); shorten 'name'" % (self.project_zip[:40], MAX_NAME_COMPONENT))
        return Project(self.files.folder, self.project_zip)

    def _titan_job(self, node: Node, index: int) -> Dict[str, Any]:
        job = self._fields(node, index, "id")
        job.check_keys(TITAN_JOB_KEYS)
        job.require("id", "a unique job id")
        uses_file = _uses_file(job)
        spec: Dict[str, Any] = {"id": job.text("id")}
        self._add_job_file(job, uses_file, spec)
        if _add_job_type(job, spec) and uses_file and not job.has("port"):
            raise job.fail(job.node.line, "%s is a service run from 'file', so it needs 'port' (the port it listens "
                           "on)" % job.what)
        if job.has("args"):
            spec["args"] = job.text("args")
        if job.has("port"):
            spec["port"] = job.integer("port")
        if job.has("delay"):
            spec["delay_ms"] = job.milliseconds("delay")
        if job.has("affinity"):
            spec["affinity"] = job.flag("affinity")
        for key in ("dependencies", "depends_on"):
            if job.has(key):
                spec["parents"] = job.text_list(key)
        if job.has("env"):
            spec["env"] = job.text_map("env")
        if job.has("secret_env"):
            spec["secret_env"] = job.text_map("secret_env")
        if job.has("hitl_message"):
            spec["hitl_message"] = job.text("hitl_message")
        if job.has("max_wait_seconds"):
            spec["max_wait_s"] = job.integer("max_wait_seconds")
        if job.has("runtime"):  # a runtime a worker offers (docs/job-control.md)
            spec["runtime"] = job.text("runtime")
        self._shared_keys(job, spec)
        return spec

    def _add_job_file(self, job: Fields, uses_file: bool, spec: Dict[str, Any]) -> None:
        """A `script`, or a `file` with `project: false`, is read and sent; a `file` of the project becomes
        an archive job's "<zip>/<path>"."""
        key = "file" if uses_file else "script"
        path = job.text(key)
        if not uses_file or not self.project:
            spec["file"] = self.files.add_script(path, key, job.line(key))
            return
        spec["file"] = self.project_zip + "/" + self.files.project_entry(path, job.line(key))
        spec["archive"] = True
        self.uses_project = True

    def _joblet_job(self, node: Node, index: int) -> Dict[str, Any]:
        job = self._fields(node, index, "name")
        job.check_keys(JOBLET_JOB_KEYS)
        job.require("name", "a unique job name")
        job.require("command", "the program to run")
        name, command = job.text("name"), job.text("command")
        args = job.text_list("args") if job.has("args") else []
        if job.has("runtime"):
            job.text("runtime")  # accepted and ignored: workers use their own interpreters
        spec: Dict[str, Any] = {"id": name}
        if command in INTERPRETERS and args and os.path.isfile(os.path.join(self.files.folder, args[0])):
            spec["file"] = self.files.add_script(args[0], "script", job.line("args"))
            if args[1:]:
                spec["args"] = " ".join(shell_quote(a) for a in args[1:])
        else:
            if "/" in name or name in (".", ".."):
                raise job.fail(job.line("name"), "job name %r cannot name its generated script %s.sh; drop the '/'"
                               % (name, name))
            script = "#!/bin/sh\nexec %s\n" % " ".join(shell_quote(w) for w in [command] + args)
            spec["file"] = self.files.put(name + ".sh", script.encode(), "generated for job '%s'" % name,
                                          job.node.line)
        if job.has("depends_on"):
            spec["parents"] = job.text_list("depends_on")
        if job.has("environment"):
            spec["env"] = job.text_map("environment")
        if job.has("secret_environment"):
            spec["secret_env"] = job.text_map("secret_environment")
        self._shared_keys(job, spec)
        return spec

    def _fields(self, node: Node, index: int, id_key: str) -> Fields:
        ident = node.value.get(id_key)
        what = "job '%s'" % ident.value if ident is not None and isinstance(ident.value, str) else "job #%d" % index
        return Fields(node, self.file, what)

    @staticmethod
    def _shared_keys(job: Fields, spec: Dict[str, Any]) -> None:
        """The keys both formats have: requirement, priority, retries, timeout, on_worker_lost, work_dir, volumes,
        cold_start."""
        if job.has("priority"):
            spec["priority"] = job.integer("priority")
        if job.has("requirement"):
            spec["requirement"] = job.text("requirement")
        if job.has("retries"):
            spec["retries"] = job.integer("retries")
        if job.has("timeout"):
            spec["timeout_ms"] = job.milliseconds("timeout")
        if job.has("on_worker_lost"):
            lost = job.text("on_worker_lost")
            if lost not in ON_WORKER_LOST:
                raise job.fail(job.line("on_worker_lost"), "'on_worker_lost' must be requeue (run it again elsewhere, "
                               "the default) or fail (never run it twice) in %s; got '%s'" % (job.what, lost))
            spec["on_worker_lost"] = lost
        yaml_limits(job, spec)
        yaml_requests(job, spec)
        if job.has("work_dir"):  # docs/job-control.md
            spec["work_dir"] = job.text("work_dir")
        if job.has("volumes"):
            spec["volumes"] = job.text_list("volumes")
        if job.has("cold_start") and job.flag("cold_start"):  # a fresh interpreter, not a warm fork
            spec["cold_start"] = True
