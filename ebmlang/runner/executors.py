"""Where many independent runs execute: one after another here, or on a Dask cluster.

A sweep's trials and a capacity study's models are independent tasks. An executor maps a
module-level function over them and yields ``(index, outcome)`` in the order they finish, where an
outcome is the function's result or a :class:`Failure` (an exception raised by the task, or a
worker that died under it): one task failing never stops the others.

`dask.distributed` is an optional extra (``pip install 'ebmlang[sweep]'``). Its LocalCluster
starts one process per core with one thread each, so that trials do not fight over BLAS threads
(Dask's nanny sets OMP/OPENBLAS/MKL_NUM_THREADS=1 in every worker it spawns); ``--scheduler
ADDRESS`` uses a cluster started elsewhere (`dask scheduler`, `dask worker`), unchanged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..errors import Location, UsageError

EXTRA_HINT = "pip install 'ebmlang[sweep]'"


@dataclass(frozen=True)
class Failure:
    """A task that raised: its one-line reason, and the exception's type name (a MemoryError is
    the spec's sizes, not a bug)."""

    error: str
    kind: str = "Exception"


def failure(exc: BaseException) -> Failure:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return Failure(f"{type(exc).__name__}: {text}", type(exc).__name__)


class SerialExecutor:
    """Runs the tasks in this process, one at a time, in order."""

    name = "serial"
    workers = 1

    def map(self, fn: Callable, tasks: Iterable) -> Iterator[tuple[int, object]]:
        for index, task in enumerate(tasks):
            try:
                yield index, fn(task)
            except Exception as exc:        # the task's problem, not the sweep's
                yield index, failure(exc)

    def running(self) -> int:
        return 1

    def close(self) -> None:
        pass


class DaskExecutor:
    """Submits every task to a dask.distributed cluster: a LocalCluster of ``workers`` processes
    (default: the cores) when ``address`` is None, else the scheduler at ``address``."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        from dask.distributed import Client, LocalCluster
        self._cluster = None
        if address is None:
            # memory_limit=0: no nanny restarts a worker at a share of the RAM; every trial was
            # checked against the machine's memory before the sweep started
            self._cluster = LocalCluster(n_workers=workers or usable_cores(),
                                         threads_per_worker=1, processes=True,
                                         dashboard_address=None, memory_limit=0)
            try:
                self.client = Client(self._cluster)
            except BaseException:
                self._cluster.close()
                raise
            self.name = f"dask LocalCluster ({len(self._cluster.workers)} processes)"
        else:
            try:
                self.client = Client(address, timeout="10s")
            except (OSError, ValueError, TypeError) as exc:   # unreachable, or not an address
                raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler "
                                 f"({exc})", Location("--scheduler", 1, 1)) from None
            self.name = f"dask scheduler {address}"

    @property
    def workers(self) -> int:
        threads = self.client.nthreads()
        return max(1, sum(threads.values()))

    def map(self, fn: Callable, tasks: Iterable) -> Iterator[tuple[int, object]]:
        from dask.distributed import as_completed
        # pure=False: Dask makes each key unique, so two sweeps on one scheduler never share a
        # result, and a task submitted again runs again
        futures = [self.client.submit(fn, task, pure=False) for task in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:        # raised in the task, or its worker died
                outcome = failure(exc)
            future.release()
            yield index[future.key], outcome

    def running(self) -> int:
        """Tasks a worker is processing now (not those queued)."""
        busy = sum(len(keys) for keys in self.client.processing().values())
        return min(busy, self.workers)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def usable_cores() -> int:
    """The cores this process may run on (a container's or CI's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def make_executor(scheduler: str | None, workers: int | None = None, note=print):
    """``scheduler``: None or `local` for a LocalCluster on this machine, an address for an
    existing cluster, `serial` for no Dask. Without the extra installed, a LocalCluster request
    falls back to serial (saying how to get Dask); an address is refused."""
    if scheduler == "serial":
        return SerialExecutor()
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        if scheduler not in (None, "local"):
            raise UsageError(f"--scheduler needs dask.distributed: {EXTRA_HINT}",
                             Location("--scheduler", 1, 1)) from None
        note(f"dask.distributed is not installed: running the tasks one after another "
             f"({EXTRA_HINT} runs them in parallel)")
        return SerialExecutor()
    return DaskExecutor(None if scheduler in (None, "local") else scheduler, workers)
