"""Where replications run: in this process, on the local cores, or on a Dask cluster.

Every executor maps a top-level function over picklable jobs and returns the results in
the jobs' order, so a table is the same whichever executor built it (each job is a
seeded, deterministic simulation).

* :class:`SerialExecutor` runs in this process (one worker, or debugging).
* :class:`ProcessExecutor` uses the local cores through ``concurrent.futures``. Workers
  start from a fork server (``forkserver``) that has imported flowsim once: starting a
  worker is a cheap fork, yet no worker inherits the threads or locks of this process
  (the progress bar's, a Dask client's), as a plain ``fork`` would. Platforms without a
  fork server ``spawn``. Either way a script that uses it needs the usual
  ``if __name__ == "__main__":`` guard.
* :class:`DaskExecutor` sends the same jobs to an existing ``dask.distributed`` cluster
  by scheduler address, for sweeps that outgrow one machine; its workers need flowsim
  installed.
"""
from __future__ import annotations

import multiprocessing
import os
import re
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence, TypeVar

from flowsim.errors import ScenarioError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]   # (jobs done, jobs in total)
PRELOAD = ["flowsim.analysis.replicate"]


class Executor:
    """Runs ``fn`` over jobs; a context manager that releases its workers on exit."""

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], progress: Progress | None = None) -> list[R]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (a no-op for executors that hold none)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SerialExecutor(Executor):
    """One job after another, in this process."""

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], progress: Progress | None = None) -> list[R]:
        out = []
        for i, job in enumerate(jobs):
            out.append(fn(job))
            if progress:
                progress(i + 1, len(jobs))
        return out


class ProcessExecutor(Executor):
    """A pool of local worker processes, kept between calls to :meth:`map`."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(PRELOAD)
            else:
                ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], progress: Progress | None = None) -> list[R]:
        pool = self._get_pool()
        futures = [pool.submit(fn, job) for job in jobs]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                if f.exception() is not None:
                    for p in pending:
                        p.cancel()
                    raise f.exception()
            if progress:
                progress(len(futures) - len(pending), len(futures))
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


#: A Dask scheduler address: ``[protocol://]host:port`` (host a name, IPv4 or [IPv6]).
_ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:[\w.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}")


class DaskExecutor(Executor):
    """Jobs on an existing ``dask.distributed`` cluster, by its scheduler's address."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ScenarioError("--cluster needs dask.distributed: pip install 'flowsim[dask]'",
                                field="--cluster") from None
        if not _ADDRESS.fullmatch(address):
            raise ScenarioError(f"expected a scheduler address such as tcp://host:8786, got {address!r}",
                                field="--cluster")
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(f"cannot reach the Dask scheduler at {address}: {exc}", field="--cluster") from None

    def map(self, fn: Callable[[T], R], jobs: Sequence[T], progress: Progress | None = None) -> list[R]:
        from dask.distributed import as_completed
        with self.client.as_current():
            futures = self.client.map(fn, list(jobs), pure=False)
            for i, _ in enumerate(as_completed(futures)):
                if progress:
                    progress(i + 1, len(futures))
            return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()


def make_executor(workers: int | None = None, cluster: str | None = None) -> Executor:
    """A Dask executor for ``cluster``, else a process pool (serial with one worker)."""
    if cluster:
        return DaskExecutor(cluster)
    if workers is not None and workers < 1:
        raise ScenarioError(f"expected at least 1 worker, got {workers}", field="--workers")
    if workers == 1 or (workers is None and (os.cpu_count() or 1) == 1):
        return SerialExecutor()
    return ProcessExecutor(workers)
