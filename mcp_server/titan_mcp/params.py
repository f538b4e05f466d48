# The parameter types tools share (and the read-only annotation), each with the description an LLM reads in the tool's input schema, and
# JobInput: one job of a submission, as submit_job and submit_dag take it.
import inspect
from typing import Annotated, Dict, List, Optional

from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from titan_sdk import TitanJob

READ = ToolAnnotations(read_only_hint=True)  # the annotation of tools that change nothing

JobId = Annotated[str, Field(description="A job id, as given at submission (a gate's id is 'hitl-gate-<job id>').")]
DagId = Annotated[str, Field(description="A DAG id: the name given at submission, or 'name#N' when that name was "
                                         "used before (submit_dag and list_dags report it).")]
Run = Annotated[Optional[int], Field(ge=1, description="An earlier run of a reused job id (1 = the first); "
                                                       "omit for the latest.")]
Limit = Annotated[int, Field(ge=1, le=1000, description="At most this many, newest first.")]
WaitSeconds = Annotated[float, Field(ge=0, le=3600, description="How long to wait, in seconds (keep it under your "
                                                                "client's tool-call timeout); the result says whether "
                                                                "it finished in that time.")]
StoreKey = Annotated[str, Field(min_length=1, description="A TitanStore key.")]
FileName = Annotated[str, Field(min_length=1, description="A file name without folders, e.g. 'report.md'.")]

ID_DOC = "Unique job id, e.g. 'extract' (letters, digits, '-', '_', '.'); reusable once its earlier run ended."
FILENAME_DOC = ("The script's name as the worker runs it; its extension picks the interpreter (.py python, .sh bash, "
                ".jar java, else executed). With `script`, its content is sent under this name. Without `script`: the "
                "name of a script deployed earlier (deploy_script), or a path on the machine this server runs on.")
SCRIPT_DOC = "The script's content, sent with the submission under `filename` (no file needed)."
ARGS_DOC = "Command-line arguments of the script, one word per item."
REQUIREMENT_DOC = "The capability a worker must have to run it (GENERAL: any worker; e.g. GPU)."
PRIORITY_DOC = "Higher runs first among queued jobs."
PARENTS_DOC = ("Ids of jobs that must complete first: jobs of this submission or earlier ones. If one fails, this "
               "job is SKIPPED.")
ENV_DOC = "Environment variables added to the job's environment."
RETRIES_DOC = "Extra attempts after a failed run."
TIMEOUT_DOC = "Seconds a run may take before it is killed and fails; omit for no limit."
DELAY_DOC = "Seconds to wait before the job may start."
HITL_DOC = ("Ask a human: after this job, a gate 'hitl-gate-<id>' waits with this question, and the job's children "
            "run only once someone approves it (approve_gate / reject_gate, or the dashboard).")
MAX_WAIT_DOC = "Seconds the gate waits for a decision before it fails (default 2 days)."


class JobInput(BaseModel):
    """One job to run."""

    id: str = Field(min_length=1, description=ID_DOC)
    filename: str = Field(min_length=1, description=FILENAME_DOC)
    script: Optional[str] = Field(None, description=SCRIPT_DOC)
    args: List[str] = Field(default_factory=list, description=ARGS_DOC)
    requirement: str = Field("GENERAL", min_length=1, description=REQUIREMENT_DOC)
    priority: int = Field(1, description=PRIORITY_DOC)
    parents: List[str] = Field(default_factory=list, description=PARENTS_DOC)
    env: Dict[str, str] = Field(default_factory=dict, description=ENV_DOC)
    retries: int = Field(0, ge=0, le=100, description=RETRIES_DOC)
    timeout_seconds: Optional[float] = Field(None, gt=0, description=TIMEOUT_DOC)
    delay_seconds: float = Field(0, ge=0, description=DELAY_DOC)
    hitl_message: Optional[str] = Field(None, min_length=1, description=HITL_DOC)
    max_wait_seconds: int = Field(172800, ge=1, description=MAX_WAIT_DOC)

    def titan_job(self) -> TitanJob:
        return TitanJob(id=self.id, filename=self.filename, content=self.script, args=self.args or None,
                        requirement=self.requirement, priority=self.priority, parents=self.parents,
                        env=self.env or None, retries=self.retries, timeout=self.timeout_seconds,
                        delay=self.delay_seconds * 1000.0,  # TitanJob's delay is in milliseconds
                        hitl_message=self.hitl_message, max_wait_seconds=self.max_wait_seconds)


def takes_job_fields(fn):
    """Gives `fn(**fields)` JobInput's fields as its own keyword parameters (with their types, defaults and
    descriptions), so a one-job tool lists them flat in its schema instead of repeating them."""
    fn.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=field, annotation=field.annotation)
         for name, field in JobInput.model_fields.items()],
        return_annotation=inspect.signature(fn).return_annotation)
    return fn
