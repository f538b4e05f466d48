# client.runtimes: the runtimes the live workers offer (`titan worker --runtime NAME=PATH`), from their
# registrations (STATS), in the shape of Joblet's RuntimeService (docs/job-control.md).
import re
from typing import Any, Dict, List

from .errors import RuntimeNotFoundError

# A runtime's name, as `titan worker --runtime NAME=PATH` accepts it (worker/runtimes.cc).
_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _language_version(name: str) -> Dict[str, str]:
    """"python-3.11-ml" -> language "python", version "3.11"; a name without a version gives ""."""
    m = re.match(r"([A-Za-z]+)[-_]?(\d+(?:\.\d+)*)?", name)
    return {"language": (m.group(1).lower() if m else ""), "version": (m.group(2) or "") if m else ""}


class RuntimeService:
    """`client.runtimes`. Runtimes are named by workers, not installed through the broker: list_runtimes()
    and get_runtime_info() read what the live workers registered with."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def list_runtimes(self) -> List[Dict[str, Any]]:
        """One dict per runtime name any live worker offers: name, language, version (guessed from the name:
        "python-3.11" -> python 3.11), available (a worker that is not draining offers it), workers (their
        names), size_bytes (the bytes of its files, as the first worker offering it measured them when it
        started; None when it had too many files to count) and packages (an environment's installed Python
        distributions, "name==version"; [] for an interpreter)."""
        by_name: Dict[str, Dict[str, Any]] = {}
        for w in self._client.get_stats().get("workers") or []:
            facts = {i.get("name"): i for i in w.get("runtime_info") or [] if isinstance(i, dict)}
            for name in w.get("runtimes") or []:
                entry = by_name.setdefault(name, dict(name=name, available=False, workers=[], packages=[],
                                                      size_bytes=None,
                                                      description="offered by titan worker --runtime",
                                                      **_language_version(name)))
                entry["workers"].append(w.get("name"))
                entry["available"] = entry["available"] or w.get("state") != "DRAINING"
                measured = facts.get(name) or {}
                if entry["size_bytes"] is None and measured.get("size_bytes") is not None:
                    entry["size_bytes"] = measured["size_bytes"]
                if not entry["packages"] and measured.get("packages"):
                    entry["packages"] = list(measured["packages"])
        return [by_name[n] for n in sorted(by_name)]

    list = list_runtimes  # the client.runtimes.list()

    def get_runtime_info(self, runtime: str) -> Dict[str, Any]:
        """{"runtime": <its list_runtimes() dict>}; RuntimeNotFoundError (a NotFoundError) when no live worker
        offers it."""
        for r in self.list_runtimes():
            if r["name"] == runtime:
                return {"runtime": r}
        raise RuntimeNotFoundError("no live worker offers runtime %r; start a worker with --runtime %s=PATH" % (runtime, runtime))

    def validate_runtime_spec(self, runtime_spec: str) -> Dict[str, Any]:
        """Whether `runtime_spec` can name a runtime: {"runtime_spec", "valid", "message", "language", "version",
        "available"} ("available": a live worker offers it now; a job naming a runtime no worker offers waits for
        one). Never raises for a bad spec: "valid" is False and "message" says what to change."""
        spec = runtime_spec if isinstance(runtime_spec, str) else ""
        valid = bool(_NAME.fullmatch(spec))
        offered = valid and any(r["name"] == spec for r in self.list_runtimes())
        if not valid:
            message = ("%r is not a runtime name: use 1-128 letters, digits, '.', '-' or '_' (e.g. python-3.11)"
                       % (runtime_spec,))
        elif offered:
            message = "runtime %s is offered by a live worker" % spec
        else:
            message = ("runtime %s is valid but no live worker offers it; start one with --runtime %s=PATH"
                       % (spec, spec))
        return dict(runtime_spec=runtime_spec, valid=valid, message=message, available=offered,
                    **_language_version(spec))
