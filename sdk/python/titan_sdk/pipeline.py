# YAML pipelines (docs/pipelines.md): parse() reads a Titan-format or Joblet-format file into the
# Submission it stands for (DAG name, agent run, JobSpecs, files), without sending anything, so the
# golden cases in schemas/golden/pipelines/ can check it offline. Errors are PipelineErrors naming the line.
import dataclasses
import os
import re
from typing import Any, Dict, List, Optional, Union

from .errors import PipelineError
from .submission import check_files_fit
from .yaml_nodes import Fields, Node, load

TITAN_TOP_KEYS = ("name", "agent_run_id", "jobs")
JOBLET_TOP_KEYS = ("version", "name", "jobs")
TITAN_JOB_KEYS = ("id", "script", "type", "args", "dependencies", "priority", "delay", "requirement", "affinity",
                  "port", "retries", "timeout", "env", "hitl_message", "max_wait_seconds")
JOBLET_JOB_KEYS = ("name", "command", "args", "runtime", "depends_on", "environment", "requirement", "priority",
                   "retries", "timeout")
JOB_TYPES = ("RUN_PAYLOAD", "SERVICE")
INTERPRETERS = ("python", "python3", "bash", "sh")  # a Joblet command whose args[0] may be the script itself
_SAFE_WORD = re.compile(r"[A-Za-z0-9\-_./=:,+@%]+")


@dataclasses.dataclass
class Submission:
    """What a pipeline file submits: one DAG. `jobs` are JobSpec dicts in file order (fields only where the
    YAML gives them); `files` maps each file's base name to its bytes, in first-use order."""

    dag: str
    agent_run_id: Optional[str]
    jobs: List[Dict[str, Any]]
    files: Dict[str, bytes]

    def submit_fields(self) -> Dict[str, Any]:
        """The fields of the JOB_SUBMIT that sends it."""
        return {"jobs": self.jobs, "files": [{"name": n, "content": c} for n, c in self.files.items()],
                "dag": self.dag, "agent_run_id": self.agent_run_id}


def parse(path: Union[str, os.PathLike]) -> Submission:
    """Reads the pipeline at `path`. Raises PipelineError ("<file>:<line>: <what>") for a file that does not
    follow docs/pipelines.md, or one it cannot read; TooLargeError when its files do not fit one message."""
    file = os.fspath(path)
    try:
        with open(file, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise PipelineError(file, 0, "cannot read the pipeline: %s" % (getattr(e, "strerror", None) or e)) from None
    return _Parser(file).parse(load(text, file))


def shell_quote(word: str) -> str:
    """The word as one shell word: as it is when made only of letters, digits and -_./=:,+@%, else in
    single quotes (a ' inside becomes '"'"')."""
    if _SAFE_WORD.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


class _Parser:
    def __init__(self, file: str):
        self.file = file
        self.folder = os.path.dirname(os.path.abspath(file))
        self.files: Dict[str, bytes] = {}
        self.origins: Dict[str, str] = {}  # base name -> where its bytes came from (a path or "generated")

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
        top.require("name", "the DAG's name")
        name = top.text("name")
        run = top.text("agent_run_id") if top.has("agent_run_id") and not joblet else None
        specs = [self._joblet_job(j, i) if joblet else self._titan_job(j, i) for i, j in enumerate(jobs.value, 1)]
        check_files_fit(self.files)
        return Submission(name, run, specs, dict(self.files))

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

    def _titan_job(self, node: Node, index: int) -> Dict[str, Any]:
        job = self._fields(node, index, "id")
        job.check_keys(TITAN_JOB_KEYS)
        job.require("id", "a unique job id")
        job.require("script", "the file to run, relative to this YAML file's folder")
        spec: Dict[str, Any] = {"id": job.text("id"), "file": self._add_file(job.text("script"), job.line("script"))}
        if job.has("type"):
            spec["job_type"] = job.text("type")
            if spec["job_type"] not in JOB_TYPES:
                raise job.fail(job.line("type"), "'type' must be RUN_PAYLOAD or SERVICE in %s" % job.what)
        if job.has("args"):
            spec["args"] = job.text("args")
        if job.has("port"):
            spec["port"] = job.integer("port")
        if job.has("delay"):
            spec["delay_ms"] = job.seconds("delay") * 1000
        if job.has("affinity"):
            spec["affinity"] = job.flag("affinity")
        if job.has("dependencies"):
            spec["parents"] = job.text_list("dependencies")
        if job.has("env"):
            spec["env"] = job.text_map("env")
        if job.has("hitl_message"):
            spec["hitl_message"] = job.text("hitl_message")
        if job.has("max_wait_seconds"):
            spec["max_wait_s"] = job.integer("max_wait_seconds")
        self._shared_keys(job, spec)
        return spec

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
        if command in INTERPRETERS and args and os.path.isfile(os.path.join(self.folder, args[0])):
            spec["file"] = self._add_file(args[0], job.line("args"))
            if args[1:]:
                spec["args"] = " ".join(shell_quote(a) for a in args[1:])
        else:
            if "/" in name or name in (".", ".."):
                raise job.fail(job.line("name"), "job name %r cannot name its generated script %s.sh; drop the '/'"
                               % (name, name))
            script = "#!/bin/sh\nexec %s\n" % " ".join(shell_quote(w) for w in [command] + args)
            spec["file"] = self._put(name + ".sh", script.encode(), "generated for job '%s'" % name, job.node.line)
        if job.has("depends_on"):
            spec["parents"] = job.text_list("depends_on")
        if job.has("environment"):
            spec["env"] = job.text_map("environment")
        self._shared_keys(job, spec)
        return spec

    def _fields(self, node: Node, index: int, id_key: str) -> Fields:
        ident = node.value.get(id_key)
        what = "job '%s'" % ident.value if ident is not None and isinstance(ident.value, str) else "job #%d" % index
        return Fields(node, self.file, what)

    @staticmethod
    def _shared_keys(job: Fields, spec: Dict[str, Any]) -> None:
        """The keys both formats have: requirement, priority, retries, timeout."""
        if job.has("priority"):
            spec["priority"] = job.integer("priority")
        if job.has("requirement"):
            spec["requirement"] = job.text("requirement")
        if job.has("retries"):
            spec["retries"] = job.integer("retries")
        if job.has("timeout"):
            spec["timeout_ms"] = job.seconds("timeout") * 1000

    def _add_file(self, script: str, line: int) -> str:
        """Reads the script (relative to the YAML file's folder, or absolute); returns its base name."""
        path = os.path.normpath(os.path.join(self.folder, script))
        try:
            with open(path, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            raise PipelineError(self.file, line, "script '%s' not found (looked for %s); paths are relative to the "
                                "YAML file's folder" % (script, path)) from None
        except IsADirectoryError:
            raise PipelineError(self.file, line, "script '%s' is a directory; name the file to run" % script) from None
        except OSError as e:
            raise PipelineError(self.file, line, "cannot read script '%s': %s" % (script, e.strerror or e)) from None
        return self._put(os.path.basename(path), content, path, line)

    def _put(self, name: str, content: bytes, origin: str, line: int) -> str:
        if name in self.files and self.files[name] != content:
            raise PipelineError(self.file, line, "two different files are named '%s' (%s and %s); the worker keeps "
                                "only the base name, so rename one" % (name, self.origins[name], origin))
        if name not in self.files:
            self.files[name], self.origins[name] = content, origin
        return name
