# The files a pipeline's jobs run (used by pipeline.py): scripts read from the YAML file's folder and sent
# once by base name, generated scripts, and the paths of `file` jobs inside the project (the YAML file's
# folder, zipped). Errors are PipelineErrors with the YAML line given; the C++ parser's
# cli/pipeline_files.cc follows the same rules with the same messages.
import os
import stat
from typing import Dict

from .errors import PipelineError
from .submission import check_files_fit


class PipelineFiles:
    def __init__(self, file: str, folder: str):
        self.file = file      # the YAML file, for messages
        self.folder = folder  # its folder, absolute and normal
        self.files: Dict[str, bytes] = {}
        self.origins: Dict[str, str] = {}  # base name -> where its bytes came from (a path or "generated")

    def add_script(self, path: str, key: str, line: int) -> str:
        """Reads the file at `path` (relative to the folder, or absolute) to send it with the DAG; `key`
        ("script", "file") names it in messages. Returns its base name."""
        full = os.path.normpath(os.path.join(self.folder, path))
        self._check_is_file(full, key, path, line)
        try:
            with open(full, "rb") as f:
                content = f.read()
        except OSError as e:
            raise PipelineError(self.file, line, "cannot read %s '%s': %s" % (key, path, e.strerror or e)) from None
        return self.put(os.path.basename(full), content, full, line)

    def put(self, name: str, content: bytes, origin: str, line: int) -> str:
        """Adds `content` under `name` unless the same bytes are there already; an error when other bytes
        are (`origin` says where these came from). Returns `name`."""
        if name in self.files and self.files[name] != content:
            raise PipelineError(self.file, line, "two different files are named '%s' (%s and %s); the worker keeps "
                                "only the base name, so rename one" % (name, self.origins[name], origin))
        if name not in self.files:
            self.files[name], self.origins[name] = content, origin
        return name

    def project_entry(self, file: str, line: int) -> str:
        """`file` as the path of an existing file inside the folder, normalized ("./a/../b.py" -> "b.py"):
        an error when it is absolute, leads outside with "..", names the folder, or names no file."""
        quoted = "'file' '%s'" % file
        fix = ("; with 'project: true' (the default) the YAML file's folder is zipped as the project, so give a "
               "path inside it, or send the file with 'script' instead")
        if file.startswith("/"):
            raise PipelineError(self.file, line, quoted + " is an absolute path" + fix)
        parts = []
        for part in file.split("/"):
            if part in ("", "."):
                continue
            if part != "..":
                parts.append(part)
            elif not parts:
                raise PipelineError(self.file, line, quoted + " leads outside the YAML file's folder" + fix)
            else:
                parts.pop()
        if not parts:
            raise PipelineError(self.file, line, quoted + " names the YAML file's folder itself; name the file to run")
        entry = "/".join(parts)
        self._check_is_file(os.path.join(self.folder, entry), "file", file, line)
        return entry

    def check_fit(self) -> None:
        """TooLargeError when the files do not fit in one submission."""
        check_files_fit(self.files)

    def _check_is_file(self, path: str, key: str, shown: str, line: int) -> None:
        what = "%s '%s'" % (key, shown)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise PipelineError(self.file, line, "%s not found (looked for %s); paths are relative to the YAML "
                                "file's folder" % (what, path)) from None
        except OSError as e:
            raise PipelineError(self.file, line, "cannot read %s: %s" % (what, e.strerror or e)) from None
        if stat.S_ISDIR(st.st_mode):
            raise PipelineError(self.file, line, "%s is a directory; name the file to run" % what)
