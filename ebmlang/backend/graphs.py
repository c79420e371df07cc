"""CUDA graphs on CuPy: record a step once, launch it many times.

A step worth capturing works on fixed buffers (it writes its results into arrays that exist
before the capture) and never reads a value on the host; its random numbers come from the
counter-based Rng, whose device state it advances. ``Capture`` gives such a step its own
non-blocking stream and its own memory pool: the temporaries a recorded step allocates keep their
addresses for every launch, and nothing outside the graph allocates from that pool.
"""
from __future__ import annotations

import os

DISABLE = "EBMLANG_CUDA_GRAPHS"         # =0: never capture (to compare, or to debug a step)


def graphs_disabled() -> bool:
    return os.environ.get(DISABLE, "1") == "0"


class Capture:
    """A stream and a memory pool for recording and launching graphs (CuPy only)."""

    def __init__(self, cupy):
        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()

    def follow(self) -> None:
        """Order the stream after the work queued so far on the caller's stream."""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())

    def record(self, step):
        """``step()`` recorded as a graph, not run. Raises what the capture raised, with the stream
        no longer capturing."""
        from .matmul import prepare_capture
        prepare_capture(self.cupy, self.stream)
        with self.stream, self.cupy.cuda.using_allocator(self.pool.malloc):
            self.stream.begin_capture()
            try:
                step()
            except BaseException:
                try:                # never leave the stream capturing, but report the cause,
                    self.stream.end_capture()       # not the invalidated capture it left
                except Exception:
                    pass
                raise
            return self.stream.end_capture()

    def launch(self, graph) -> None:
        graph.launch(self.stream)

    def synchronize(self) -> None:
        self.stream.synchronize()


def run_replayed(capture: Capture, step, count: int, arrays) -> str | None:
    """``step()`` ``count`` times on ``capture``'s stream: the first eagerly (it compiles the
    kernels, which a capture must not do), the rest as launches of one graph
    recorded from it. ``step`` works in place on fixed arrays and moves its own counters on the
    device. None once every launch is done; why not when the capture fails, with ``arrays`` (all
    that the plain loop reads afterwards) given back their values from before the first step, so
    that the caller can run its plain loop from the start instead."""
    start = [(a, a.copy()) for a in arrays]
    capture.follow()
    with capture.stream:
        step()
        try:
            graph = capture.record(step)
        except Exception as exc:
            for a, saved in start:
                a[...] = saved
            capture.synchronize()       # the plain loop runs on the caller's stream
            return f"capture failed: {type(exc).__name__}: {exc}"
        for _ in range(count - 1):
            capture.launch(graph)
    capture.synchronize()
    return None
