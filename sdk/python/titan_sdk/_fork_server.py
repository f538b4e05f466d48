"""A worker's warm Python interpreter (docs/job-control.md, "Warm Python jobs").

`python -m titan_sdk._fork_server`, started by a worker with its control socket (an AF_UNIX
SOCK_SEQPACKET socket) as stdin. It imports titan_sdk once, says READY, then serves one request
per .py job: fork the job as a child of the worker, so that the worker waits for, signals and reaps
it like a job it spawned itself. The reply names the job's pid once it is the worker's child.

On Linux x86-64 and arm64 with glibc the job is the server's sibling from the start: one clone(2) with
CLONE_PARENT (_SiblingFork), with what fork(2) does around it (CPython's PyOS_BeforeFork/AfterFork
hooks, glibc's thread id of the child). Elsewhere (or if glibc does not describe its thread struct) an
intermediate process forks the job and exits, and the job is re-parented to the worker, a child
subreaper: one more fork of the whole interpreter, and the worker waits for the intermediate's exit.

Request: a JSON object (argv, env, cwd, cpus, worker_pid, cgroups, outlive_worker) with descriptors
[stdin, stdout, stderr, go, cgroup.procs...]. Reply: {"pid": N} or {"error": "..."}. The job runs
no code of its own before it has read one byte from `go`, which the worker sends once it has the
pid: a launch the worker gave up on leaves nothing running.

The job process gets what `python script.py` would: its own process group, the worker as parent
with SIGKILL as parent-death signal (until the worker's go, with outlive_worker: then a run the
worker's reaper watches may finish after its worker dies), the job's cgroups (joined before any job
code runs), CPUs, stdio, cwd, environment (replaced wholesale), default signal mask, and a fresh __main__ from the script.
"""

import gc
import json
import os
import signal
import socket
import sys
import time

_MAX_REQUEST = 1 << 20
_MAX_FDS = 16
_PR_SET_PDEATHSIG = 1
_HERE = os.path.abspath(__file__)


_LIBC = None  # ctypes.CDLL(None): made by main() before the server says READY, so a job need not make its own


def _libc():
    global _LIBC
    if _LIBC is None:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _prctl_pdeathsig(sig=signal.SIGKILL):
    return _libc().prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


_ENVIRON_KEEP = []  # the job's C environment array (_replace_environ): referenced for the job's life


def _replace_environ(pairs):
    """os.environ and the C environment (what exec and subprocess pass on) become `pairs` wholesale, in
    one assignment of `environ` as POSIX allows, with os.environ's mapping rebuilt in place (its identity
    kept for code that holds it). os.environ.clear() then update() would give the same result, at the cost
    of a setenv per variable: glibc records every value set in a tree, and in a forked process each
    insertion copies shared pages (about 3 per variable, a third of a warm start's own time)."""
    import ctypes

    env = os.environ
    encoded = [(env.encodekey(k), env.encodevalue(v)) for k, v in pairs.items()]
    try:
        array = (ctypes.c_char_p * (len(encoded) + 1))(*[k + b"=" + v for k, v in encoded], None)
        c_environ = ctypes.c_void_p.in_dll(_libc(), "environ")
        data = getattr(env, "_data")
    except (AttributeError, ValueError, TypeError):
        env.clear()
        env.update(pairs)
        return
    _ENVIRON_KEEP[:] = [array]  # its strings are the bytes objects it was made from, kept by the array
    c_environ.value = ctypes.addressof(array)
    data.clear()
    data.update(encoded)


class _SiblingFork:
    """fork(2) whose child's parent is our parent (clone CLONE_PARENT): the job starts as the worker's child.

    CPython's os.fork is PyOS_BeforeFork, fork, PyOS_AfterFork_Child/Parent; glibc's fork is clone with
    CLONE_CHILD_SETTID on its thread struct's tid (which raise and abort use). This does the same with
    CLONE_PARENT added. `available` is False where any part is missing (another libc or architecture)."""

    _CLONE_PARENT = 0x00008000
    _CLONE_CHILD_CLEARTID = 0x00200000
    _CLONE_CHILD_SETTID = 0x01000000
    _SYS_CLONE = {"x86_64": 56, "aarch64": 220}

    def __init__(self):
        self.available = False
        try:
            import ctypes
            import platform
            import threading

            self._nr = self._SYS_CLONE[platform.machine()]
            self._libc = ctypes.CDLL(None, use_errno=True)
            self._libc.syscall.restype = ctypes.c_long
            self._libc.pthread_self.restype = ctypes.c_void_p
            # glibc's description of struct pthread for libthread_db: {bits, count, offset} of its tid.
            bits, _, offset = (ctypes.c_uint32 * 3).in_dll(self._libc, "_thread_db_pthread_tid")
            self._tid_addr = self._libc.pthread_self() + offset
            if bits != 32 or ctypes.c_int.from_address(self._tid_addr).value != threading.get_native_id():
                return
            self._api = ctypes.pythonapi
            self._c_long, self._c_ulong, self._c_void_p = ctypes.c_long, ctypes.c_ulong, ctypes.c_void_p
            self.available = True
        except (ImportError, KeyError, AttributeError, ValueError, OSError):
            pass

    def fork(self):
        """0 in the child, its pid in the parent; OSError when clone fails."""
        import ctypes

        flags = self._CLONE_PARENT | self._CLONE_CHILD_SETTID | self._CLONE_CHILD_CLEARTID | signal.SIGCHLD
        # x86-64 and arm64 alike: clone(flags, stack, parent_tid, child_tid, tls); a null stack is fork's.
        # ctypes.pythonapi calls keep the GIL, as os.fork's hooks require.
        self._api.PyOS_BeforeFork()
        pid = self._libc.syscall(self._c_long(self._nr), self._c_ulong(flags), None, None,
                                 self._c_void_p(self._tid_addr), None)
        if pid == 0:
            self._api.PyOS_AfterFork_Child()
            return 0
        err = ctypes.get_errno()
        self._api.PyOS_AfterFork_Parent()
        if pid < 0:
            raise OSError(err, "clone(CLONE_PARENT): %s" % os.strerror(err))
        return pid


_SIBLING = None  # made by main() before the server says READY


def _fail(message):
    """Before the job's code runs: report like a failed spawn (stderr, exit 127)."""
    try:
        os.write(2, ("titan: cannot start the job warm: %s\n" % message).encode())
    finally:
        os._exit(127)


def _become_job(req, fds):
    """In the job process, before its code: the steps of the worker's cold spawn, in its order."""
    os.setpgid(0, 0)
    worker = req["worker_pid"]
    deadline = time.monotonic() + 5.0
    while os.getppid() != worker:  # the intermediate is exiting: wait to be re-parented
        if time.monotonic() > deadline:
            os._exit(127)
        time.sleep(0)
    if not _prctl_pdeathsig() or os.getppid() != worker:
        os._exit(127)  # the worker died meanwhile
    stdin, stdout, stderr, go = fds[:4]
    try:
        if os.read(go, 1) != b"1":
            os._exit(127)  # the worker gave up on this launch
    except OSError:
        os._exit(127)
    if req.get("outlive_worker") and (not _prctl_pdeathsig(0) or os.getppid() != worker):
        os._exit(127)  # a run its reaper watches finishes if the worker dies from now on; it died already
    os.dup2(stdin, 0)  # first, so that a failure below is reported in the job's log
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for i, fd in enumerate(fds[4:]):
        try:
            os.write(fd, b"0")
        except OSError as e:
            _fail("cannot join cgroup %s: %s" % (req["cgroups"][i], e.strerror))
    if req["cpus"]:
        os.sched_setaffinity(0, req["cpus"])
    try:
        os.chdir(req["cwd"])
    except OSError as e:
        _fail("cannot use working directory '%s': %s" % (req["cwd"], e.strerror))
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _own_thread_id()
    os.closerange(3, _max_fd())
    _replace_environ(dict(kv.split("=", 1) for kv in req["env"] if "=" in kv))
    _fresh_stdio()


def _own_thread_id():
    """threading's record of the main thread's native id is the server's after a fork (CPython 3.11 does not
    renew it): the job's, as a fresh interpreter has it."""
    threading = sys.modules.get("threading")
    renew = getattr(threading.main_thread(), "_set_native_id", None) if threading is not None else None
    if renew is not None:
        renew()


def _fresh_stdio():
    """sys.stdin/stdout/stderr made again over fds 0-2 as CPython's create_stdio makes them at start (the
    server's were made over its socket and log file: seekable, other buffer sizes), with the server's
    encoding, errors and buffering (the same startup variables chose them)."""
    import io

    buffered = not sys.stdout.write_through  # PYTHONUNBUFFERED / -u
    streams = []
    for fd, old, write, name in ((0, sys.stdin, False, "<stdin>"), (1, sys.stdout, True, "<stdout>"),
                                 (2, sys.stderr, True, "<stderr>")):
        buffering = 0 if write and not buffered else -1
        buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
        raw = buf if buffering == 0 else buf.raw
        raw.name = name
        line_buffering = buffered and (raw.isatty() or fd == 2)
        stream = io.TextIOWrapper(buf, old.encoding, old.errors, "\n", line_buffering, not buffered)
        stream.mode = "w" if write else "r"
        streams.append(stream)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


def _max_fd():
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 65536


def _strip_own_frames(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename == _HERE:
        tb = tb.tb_next
    return tb


def _run_script(argv):
    """Runs argv[1] as __main__ with sys.argv = argv[1:]. Returns its exit code and whether it ended by an
    uncaught KeyboardInterrupt, having printed what the interpreter prints (a traceback, sys.exit's message)."""
    import builtins
    import importlib.machinery
    import types

    script = argv[1]
    sys.argv = list(argv[1:])
    sys.orig_argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    main = types.ModuleType("__main__")
    main.__dict__.update(  # what CPython's add_main_module and its run of a file put there
        __annotations__={},
        __file__=script,
        __cached__=None,
        __builtins__=builtins,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
        __spec__=None,
        __package__=None,
    )
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as f:
            source = f.read()
        exec(compile(source, script, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as e:
        return _exit_code(e), False
    except BaseException as e:  # printed as the interpreter prints an uncaught exception
        tb = _strip_own_frames(e.__traceback__)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1, isinstance(e, KeyboardInterrupt)
    return 0, False


def _exit_code(e):
    """CPython's handle_system_exit: None is 0, an int is itself, anything else is printed and is 1."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _finish(code, interrupted):
    """Ends the job as Py_FinalizeEx ends a script, without finalizing the server's objects (which would
    copy every page the fork shares): non-daemon threads are waited for, atexit handlers run, the script's
    globals are cleared and its garbage collected (their __del__ and finally blocks run, files are
    flushed), stdio flushed; an uncaught KeyboardInterrupt then kills it with SIGINT, as CPython does.
    Not done: clearing the globals of other modules (what a script leaves only there is not finalized)."""
    import atexit
    import gc

    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:
            pass
    atexit._run_exitfuncs()
    _flush_stdio()
    sys.modules["__main__"].__dict__.clear()
    gc.collect()
    _flush_stdio()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def _flush_stdio():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _job(ctl, w, req, fds):
    """The job process: becomes the job, runs the script and ends; never returns."""
    try:
        if w >= 0:
            os.close(w)
        ctl.close()
        _become_job(req, fds)
    except BaseException as e:
        _fail("%s: %s" % (type(e).__name__, e))
    code, interrupted = _run_script(req["argv"])
    _finish(code, interrupted)


def _start(ctl, req, fds):
    """Forks the job; returns its pid once the job is the worker's child."""
    gc.freeze()  # the server's objects: a job's collections neither visit nor copy them
    if _SIBLING is not None and _SIBLING.available:
        job = _SIBLING.fork()
        if job == 0:
            _job(ctl, -1, req, fds)
        return job  # the worker puts it in its own process group (it is the parent now)
    r, w = os.pipe()
    inter = os.fork()
    if inter == 0:  # intermediate: never returns
        try:
            os.close(r)
            job = os.fork()
        except BaseException:
            os._exit(1)
        if job == 0:
            _job(ctl, w, req, fds)
        try:
            os.setpgid(job, job)  # also here, so the group exists before the worker learns the pid
            os.write(w, str(job).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 32)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(inter, 0)  # the intermediate is gone: the job is the worker's child now
    if not data:
        raise OSError("fork failed in the intermediate process")
    return int(data)


def _serve(ctl):
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, _MAX_REQUEST, _MAX_FDS)
        except InterruptedError:
            continue
        if not msg:
            return  # the worker closed its end
        try:
            req = json.loads(msg)
            reply = {"pid": _start(ctl, req, fds)}
        except Exception as e:
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        finally:
            for fd in fds:
                os.close(fd)
        ctl.sendall(json.dumps(reply).encode())



def main():
    ctl = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        import ctypes  # noqa: F401  (used by every job for its parent-death signal and environment)
        import titan_sdk  # noqa: F401  (the point of a warm interpreter)
        global _SIBLING
        _libc()
        _SIBLING = _SiblingFork()
    except Exception as e:
        ctl.sendall(json.dumps({"error": "cannot import titan_sdk: %s" % e}).encode())
        return 1
    ctl.sendall(json.dumps({"ready": sys.executable}).encode())
    _serve(ctl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
