# Packing a project folder into a zip for archive jobs, with the stdlib zipfile: entries relative to the
# folder in sorted order, file contents streamed from disk, symlinks stored as links only when they stay
# inside the folder, within the unpack limits (what the worker's unpacker accepts, artifacts/zip_archive.h;
# the CLI packs by the same rules with artifacts/zip_pack.cc).
import os
import stat
import zipfile
from typing import Collection, List, Tuple

from .errors import TitanError

_LINK_MODE = (stat.S_IFLNK | 0o777) << 16  # external_attr of a symlink entry (Unix "version made by")
# What a worker unpacks (artifacts::UnpackLimits): a bigger project would fail every job that runs it.
MAX_PROJECT_BYTES = 4 << 30    # bytes of files, all together
MAX_PROJECT_ENTRIES = 100000   # files, folders and links


def zip_folder(folder: str, zip_path: str, exclude: Collection[str] = ()) -> None:
    """Writes a zip of everything under `folder` to `zip_path`, leaving out the absolute paths in
    `exclude` (files or folders, e.g. where `zip_path` is being written). Regular files keep their
    permission bits, empty folders are kept. Raises TitanError for a symlink that points outside the
    folder (or is absolute), for other file types (sockets, devices, FIFOs) and for a folder over
    MAX_PROJECT_ENTRIES or MAX_PROJECT_BYTES; nothing is left at `zip_path` then."""
    folder = os.path.abspath(folder)
    try:
        entries = _entries(folder, {os.path.abspath(p) for p in exclude} | {os.path.abspath(zip_path)})
        _check_limits(folder, entries)
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True,
                             strict_timestamps=False) as zf:  # files older than 1980 get 1980-01-01
            for arcname, path, kind in entries:
                if kind == "link":
                    info = zipfile.ZipInfo(arcname)
                    info.create_system = 3  # Unix: the unpacker reads the mode from external_attr
                    info.external_attr = _LINK_MODE
                    zf.writestr(info, os.readlink(path))
                else:
                    zf.write(path, arcname)  # folders end in "/"; files are streamed in pieces
    except BaseException:
        try:
            os.unlink(zip_path)
        except OSError:
            pass
        raise


def _entries(folder: str, exclude: Collection[str]) -> List[Tuple[str, str, str]]:
    """(entry name, path, "dir"|"file"|"link") for everything under `folder`, sorted, checked first."""
    real_root = os.path.realpath(folder)
    out: List[Tuple[str, str, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise, followlinks=False):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, folder)
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in exclude]
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            if path in exclude:
                continue
            arcname = name if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/" + name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                _check_link(folder, real_root, path, arcname)
                out.append((arcname, path, "link"))
            elif stat.S_ISDIR(st.st_mode):
                out.append((arcname, path, "dir"))
            elif stat.S_ISREG(st.st_mode):
                out.append((arcname, path, "file"))
            else:
                raise TitanError("%s is neither a file, a folder nor a symlink; remove it from the project folder "
                                 "before zipping it" % path)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    out.sort(key=lambda e: e[0])
    return out


def _check_limits(folder: str, entries: List[Tuple[str, str, str]]) -> None:
    if len(entries) > MAX_PROJECT_ENTRIES:
        _too_big(folder, "more than %d files and folders" % MAX_PROJECT_ENTRIES)
    size = sum(os.lstat(path).st_size for _, path, kind in entries if kind == "file")
    if size > MAX_PROJECT_BYTES:
        _too_big(folder, "more than %d bytes of files" % MAX_PROJECT_BYTES)


def _too_big(folder: str, what: str) -> None:
    raise TitanError("cannot pack '%s': it holds %s, more than a worker unpacks; move data out of the folder (into "
                     "TitanStore or an uploaded artifact) or pack a smaller folder" % (os.path.realpath(folder), what))


def _raise(error: OSError) -> None:
    raise TitanError("cannot read the project folder: %s: %s" % (error.filename, error.strerror or error))


def _check_link(folder: str, real_root: str, path: str, arcname: str) -> None:
    target = os.readlink(path)
    if os.path.isabs(target):
        raise TitanError("symlink %s in project folder %s points to the absolute path %s; the project must be "
                         "self-contained: make the link relative or copy the file in" % (arcname, folder, target))
    inside = os.path.normpath(os.path.join(os.path.dirname(arcname), target))  # as seen once unpacked
    resolved = os.path.realpath(os.path.join(os.path.dirname(path), target))  # and through links here
    if inside == ".." or inside.startswith("../") or os.path.commonpath([real_root, resolved]) != real_root:
        raise TitanError("symlink %s in project folder %s points outside it (%s -> %s); the project must be "
                         "self-contained: copy the file in instead" % (arcname, folder, target, resolved))
