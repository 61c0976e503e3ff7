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

The same jobs can run beyond this machine, as tasks of a Dask cluster:
:func:`dask_client` connects to a scheduler (one place for the optional
``distributed`` import and its errors) and :func:`run_on_dask` is
:func:`run` on that cluster. Results travel back as pickles, as they do from
the worker processes.
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
from contextlib import contextmanager
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


def import_distributed(purpose: str):
    """The ``distributed`` module, imported only when a Dask cluster is asked for.

    ``purpose`` names the work in the error raised when it is not installed
    (``"screening"``, ``"training"``).
    """
    try:
        import distributed
    except ImportError:
        raise ImportError(f"{purpose} on Dask needs the 'distributed' package: "
                          "pip install 'dask[distributed]'") from None
    return distributed


def dask_client(scheduler, purpose: str):
    """A client of the Dask scheduler ``scheduler``, and whether the caller must close it.

    Parameters
    ----------
    scheduler : str or distributed.Client
        A scheduler's address (``"tcp://host:8786"``), or a client, which is
        used as it is (and left open).
    purpose : str
        The work, named in the error when ``distributed`` is missing.

    Returns
    -------
    client : distributed.Client
    owned : bool
        True when the client was made here: close it when done.

    Raises
    ------
    ImportError
        ``distributed`` is not installed.
    ConnectionError
        No scheduler answers at the address within Dask's connection
        timeout (``distributed.comm.timeouts.connect``, 30 s by default), or
        the address is malformed; the message names the address.
    """
    distributed = import_distributed(purpose)
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    try:
        return distributed.Client(scheduler), True
    except (OSError, ValueError) as error:
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r}: {error}") from None


@contextmanager
def dask_connection(scheduler, purpose: str):
    """:func:`dask_client` as a context: a client made here is closed on leaving."""
    client, owned = dask_client(scheduler, purpose)
    try:
        yield client
    finally:
        if owned:
            client.close()


def run_on_dask(function: Callable, jobs: Sequence, client, on_result: Callable | None = None) -> list:
    """``[function(job) for job in jobs]``, each call one task of the Dask cluster of ``client``.

    Parameters
    ----------
    function : callable
        Importable by name on the Dask workers (a module-level function of a
        module installed there).
    jobs : sequence
        Picklable arguments, one task each, submitted in this order.
    client : distributed.Client
        See :func:`dask_client`.
    on_result : callable, optional
        Called in this process with ``(position, result)`` as each task
        finishes (to store results as they come, say).

    Returns
    -------
    list
        The results in the order of ``jobs``.

    Raises
    ------
    Exception
        The first exception a task raised (in the order they finish); the
        tasks still pending are cancelled before this returns or raises.
    """
    import distributed  # a client exists, so it is installed

    futures = [client.submit(function, job, pure=False) for job in jobs]
    position_of = {future.key: position for position, future in enumerate(futures)}
    results: list = [None] * len(futures)
    try:
        for future in distributed.as_completed(futures):
            position = position_of[future.key]
            results[position] = future.result()
            future.release()
            if on_result is not None:
                on_result(position, results[position])
    finally:
        client.cancel([future for future in futures if not future.done()])
    return results


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
