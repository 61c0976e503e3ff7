"""Running independent jobs in fresh worker processes that never re-run the caller's script.

``multiprocessing``'s spawn start method imports the caller's ``__main__``
again in every worker: a plain script without an ``if __name__ ==
"__main__":`` guard then runs itself once per worker (and crashes with a long
traceback), and a worker outlives a parent that was killed. The workers here
are started as ``python -m hea_dvae.workers``: they import only what the
pickled function needs, and they exit as soon as their parent's end of the
pipe closes, however the parent ended.

Protocol: the parent writes one length-prefixed pickle ``(function, jobs)``
to the worker's standard input and keeps the pipe open; the worker answers
with one length-prefixed pickle per job, ``(position, result)`` (or
``(position, exception)``), on its standard output, and exits when its
input closes.
"""

from __future__ import annotations

import os
import pickle
import selectors
import struct
import subprocess
import sys
import tempfile
import threading
from typing import Callable, Sequence

_HEADER = struct.Struct("<Q")


class WorkerError(RuntimeError):
    """A worker process failed or died; the message holds the end of its error output."""


def _send(stream, value) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive(stream):
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    return pickle.loads(_read_exactly(stream, size))


def _split(n_jobs: int, workers: int) -> list[list[int]]:
    """Job positions dealt round-robin, so that every worker gets early (often costly) jobs."""
    return [list(range(w, n_jobs, workers)) for w in range(workers)]


def run(function: Callable, jobs: Sequence, workers: int, on_result: Callable | None = None) -> list:
    """``[function(job) for job in jobs]``, computed by ``workers`` fresh processes.

    Parameters
    ----------
    function : callable
        Importable by name (a module-level function of an installed module).
    jobs : sequence
        Picklable arguments, one call each.
    workers : int
        Processes started (at most one per job).
    on_result : callable, optional
        Called in this process with ``(position, result)`` as each job finishes
        (a progress bar, say).

    Returns
    -------
    list
        The results in the order of ``jobs``.

    Raises
    ------
    Exception
        The first exception a job raised, re-raised here; or :class:`WorkerError`
        when a worker died. Every worker is stopped before this returns or raises.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    workers = max(1, min(int(workers), len(jobs)))
    results: list = [None] * len(jobs)
    processes: list[tuple[subprocess.Popen, object]] = []
    selector = selectors.DefaultSelector()
    try:
        for positions in _split(len(jobs), workers):
            errors = tempfile.TemporaryFile()
            process = subprocess.Popen([sys.executable, "-m", "hea_dvae.workers"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=errors, env=_child_environment())
            processes.append((process, errors))
            _send(process.stdin, (function, [(p, jobs[p]) for p in positions]))
            selector.register(process.stdout, selectors.EVENT_READ, (process, errors, len(positions)))
        pending = len(jobs)
        while pending:
            for key, _ in selector.select():
                process, errors, _ = key.data
                try:
                    position, value = _receive(key.fileobj)
                except EOFError:
                    process.wait()
                    raise WorkerError(_failure(process, errors)) from None
                if isinstance(value, _Raised):
                    raise value.error
                results[position] = value
                pending -= 1
                if on_result is not None:
                    on_result(position, value)
        return results
    finally:
        selector.close()
        for process, errors in processes:
            if process.poll() is None:
                process.stdin.close()  # the worker's signal to exit
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            errors.close()


def _child_environment() -> dict:
    # The worker must import the same hea_dvae as this process, installed or not.
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _failure(process: subprocess.Popen, errors) -> str:
    errors.seek(0)
    tail = errors.read()[-2000:].decode("utf-8", "replace").strip()
    return f"a worker process stopped (exit status {process.returncode})" + (f":\n{tail}" if tail else "")


class _Raised:
    """An exception a job raised, carried back to the parent."""

    def __init__(self, error: BaseException):
        self.error = error


def _watch_parent(stream) -> None:
    # Anything more on the input, or its end, means the parent is done or gone.
    stream.read(1)
    os._exit(0)


def _main() -> None:  # pragma: no cover - runs in the worker process
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing the jobs print may corrupt the result stream.
    sys.stdout = sys.stderr
    function, jobs = _receive(stdin)
    threading.Thread(target=_watch_parent, args=(stdin,), daemon=True).start()
    for position, job in jobs:
        try:
            value = function(job)
        except Exception as error:  # noqa: BLE001 - carried back and re-raised by the parent
            value = _Raised(error)
            try:
                pickle.dumps(error)
            except Exception:  # noqa: BLE001 - an exception that cannot travel is described instead
                value = _Raised(RuntimeError(f"{type(error).__name__}: {error}"))
        _send(stdout, (position, value))
    # Wait for the parent to close our input (the watcher exits the process).
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    # Through the package, so that what travels back pickles as hea_dvae.workers.*, not __main__.*.
    from hea_dvae.workers import _main as main

    main()
