"""What a spec will cost, from the spec alone, before anything is allocated.

`ebm validate` and `ebm run` both refuse a spec whose estimate exceeds the memory limit (the
machine's physical memory, or `--max-memory`), with a located error that gives the estimate and
its largest part, so that a size with a few extra zeros never reaches the allocator. The estimate
is deliberately coarse, within a small factor:

    couplings   weights, gradient and two optimizer slots: 4 × size_a × size_b numbers (a lattice
                with one strength: a stencil, a few numbers per unit); the unit-level graph that
                sparse connectivity is built as (networkx: ~300 bytes per node and per edge)
    states      the most rows of states held at once (chains, minibatch, samples, sampling chains,
                annealing restarts, AIS runs): 8 × rows × Σ layer sizes numbers (temporaries
                included)
    data        what the source holds in memory (MNIST: 70,000 × 784 float64, twice)
    evaluation  exact enumeration: 2 × states × Σ layer sizes numbers; a capacity study: 4 N²
                numbers for its largest N, and its patterns (2 × load × N²)

Exact enumeration is bounded by its number of joint states (EXACT_STATES), found as exact
evaluation finds it: every layer outside the largest set of mutually uncoupled layers (gaussian
ones always summed out) is enumerated.
"""
from __future__ import annotations

import itertools
import math
import os
import re

from ..errors import Diagnostic, SpecError

EXACT_STATES = 2 ** 22
GRAPH_BYTES = 300               # per node and per edge of a networkx graph
DATA_BYTES = {"mnist": 2 * 70_000 * 784 * 8, "mnist-embedded": 2 * 6_000 * 784 * 8}
_UNITS = {"": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}


def parse_size(text: str) -> int:
    """`8G`, `500M`, `1.5t`, `123456` (bytes) -> bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", text)
    if not match:
        raise ValueError(f"'{text}' is not a size (e.g. 8G, 500M)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def machine_memory() -> int:
    """Physical memory in bytes (a generous default where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 * 2 ** 30


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def _is_stencil(c) -> bool:
    """A lateral lattice of one fixed strength, lowered to a stencil (as ``graph.build`` does)."""
    return c.connectivity.kind == "lattice" and c.init.kind == "constant" and not c.trainable


def _edges(c, size_a: int, size_b: int) -> float:
    """Edges of the unit-level graph a coupling is built as (0: dense)."""
    kind, o = c.connectivity.kind, c.connectivity.options
    lateral = c.between[0] == c.between[1]
    if kind == "dense":
        return 0
    if kind == "complete":
        return size_a * (size_a - 1) / 2
    if kind == "lattice":
        return size_a * len(o["dims"])
    if kind == "random":
        return o["p"] * (size_a * (size_a - 1) / 2 if lateral else size_a * size_b)
    if kind == "random_regular":
        return size_a * o["degree"] / 2
    if kind == "edges":
        return len(o["list"] or ()) or size_a
    return size_a * size_b / 8          # a mask file: its nonzero entries


def coupling_bytes(spec, c) -> float:
    layers, itemsize = spec.model.layers, 4 if spec.dtype == "float32" else 8
    a, b = (layers[n].size for n in c.between)
    edges = _edges(c, a, b)
    graph = GRAPH_BYTES * (edges + (a + b if edges else 0))
    if _is_stencil(c):
        return graph + 16 * a * itemsize
    masked = c.connectivity.kind != "dense"             # a dense 0/1 mask beside the weights
    return graph + (5 if masked else 4) * a * b * itemsize


def estimate(spec) -> list[tuple[float, str, str]]:
    """(bytes, dotted path, what) for each part of the spec's memory, largest first."""
    if spec.model is None:
        return []
    layers, itemsize = spec.model.layers, 4 if spec.dtype == "float32" else 8
    parts = []
    for i, c in enumerate(spec.model.couplings):
        if all(n in layers for n in c.between):
            parts.append((coupling_bytes(spec, c), f"model.couplings.{i}.connectivity",
                          f"coupling {i} ({c.between[0]}–{c.between[1]})"))
    total_units = sum(layer.size for layer in layers.values())
    rows, path, what = max(_row_counts(spec))
    largest = max(layers, key=lambda n: layers[n].size)
    parts.append((8 * rows * total_units * itemsize, path or f"model.layers.{largest}.size",
                  f"{what} ({rows:,} rows × {total_units:,} units)"))
    if spec.data is not None:
        parts.append(data_part(spec))
    parts += _evaluation_parts(spec, total_units, itemsize)
    return sorted(parts, reverse=True)


def data_part(spec) -> tuple[float, str, str]:
    """(bytes, dotted path, what) of the data set in memory (float64): MNIST's fixed size, the
    generated sets' from their settings (bars and stripes makes all 2^(side+1) patterns; a
    hypercube mixture has 2^dim means); a file's is not known before it is read."""
    d = spec.data
    if d.source in DATA_BYTES:
        return DATA_BYTES[d.source], "data.source", f"the {d.source} data"
    if d.source == "bars-and-stripes":
        patterns = 2.0 ** (d.side + 1)
        return (8 * d.side ** 2 * (d.samples + 2 * patterns),
                "data.samples" if d.samples > patterns else "data.side",
                f"bars and stripes ({d.samples:,} draws of {patterns:,.0f} patterns of "
                f"{d.side}×{d.side})")
    if d.source == "gaussian-mixture":
        hypercube = d.layout == "hypercube"
        means = 2.0 ** min(d.dim, 200) if hypercube else d.components   # 2^200: beyond any machine
        named = f"2^{d.dim:,}" if hypercube else f"{d.components:,}"
        return (8 * d.dim * (3 * d.samples + means),
                "data.dim" if hypercube or d.dim > d.samples else "data.samples",
                f"a mixture of {named} components, {d.samples:,} points each set, in "
                f"{d.dim:,} dimensions")
    if d.source == "gaussian-grid":
        return (8 * 2 * (3 * d.samples + d.side ** 2), "data.samples",
                f"a grid of {d.side ** 2:,} modes, {d.samples:,} points each set")
    if d.source == "patterns":
        layer = spec.model.layers.get(d.layer or next(iter(spec.model.layers)))
        size = layer.size if layer is not None else 0
        return 8 * 2 * d.count * size, "data.count", f"{d.count:,} patterns of {size:,} units"
    return 0, "data.source", f"the {d.source} data"


def _row_counts(spec) -> list[tuple[int, str, str]]:
    """(rows, dotted path, what) of everything that holds many states of the model at once:
    training chains and minibatches, samples, sampling chains, annealing restarts, AIS runs."""
    out = [(1, "", "chains and minibatches")]
    out += [(s.chains or 0, spec.stage_path(i) + ".chains", "persistent chains")
            for i, s in enumerate(spec.stages)]
    out += [(s.batch_size, spec.stage_path(i) + ".batch_size", "minibatches")
            for i, s in enumerate(spec.stages)]
    ev = spec.evaluate
    if ev.samples is not None:
        out.append((ev.samples.count, "evaluate.samples.count", "samples"))
    if ev.log_likelihood is not None and ev.log_likelihood.method == "ais":
        out.append((ev.log_likelihood.runs, "evaluate.log_likelihood.runs", "AIS runs"))
    if spec.sample is not None:
        out.append((spec.sample.chains, "sample.chains", "sampling chains"))
    if spec.optimize is not None:
        out.append((spec.optimize.restarts, "optimize.restarts", "annealing restarts"))
    return out


def _evaluation_parts(spec, total_units: int, itemsize: int) -> list[tuple[float, str, str]]:
    """Exact enumeration (every enumerated state at once, with the units computed from it) and
    the capacity study (a network of its largest size: N² weights, patterns and states)."""
    parts = []
    ll = spec.evaluate.log_likelihood
    if ll is not None and ll.method == "exact":
        log2_states = exact_states(spec)
        if log2_states <= 64:
            parts.append((2 * 2.0 ** log2_states * total_units * itemsize,
                          "evaluate.log_likelihood.method",
                          f"exact evaluation (2^{log2_states:.4g} states × "
                          f"{total_units:,} units)"))
    study = spec.study.capacity if spec.study is not None else None
    if study is not None:
        n = max(study.sizes)
        parts.append((8 * 4.0 * n * n, "study.capacity.sizes",
                      f"a capacity network of {n:,} units"))
        patterns = max(1.0, max(study.loads) * n)
        parts.append((8 * 2.0 * patterns * n, "study.capacity.loads",
                      f"{patterns:,.0f} patterns of {n:,} units"))
    return parts


def _log2_counts(layers: dict) -> dict:
    """log2 of each discrete layer's number of states."""
    out = {}
    for name, layer in layers.items():
        if layer.units in ("binary", "spin"):
            out[name] = float(layer.size)
        elif layer.units == "softmax":
            k = layer.categories or layer.size
            out[name] = (layer.size // k) * math.log2(k)
    return out


def exact_states(spec) -> float:
    """log2 of the joint states exact evaluation enumerates: all discrete layers outside the
    largest set of mutually uncoupled layers that it sums out (gaussian layers always among
    those). A DBN's (``eval/belief.py``) enumerates its generated layers and the top's
    interface but the data layer, and its top RBM for log Z."""
    layers, couplings = spec.model.layers, spec.model.couplings
    generative = [c for c in couplings if c.kind == "generative"]
    if not generative:
        return _enumerated(layers, couplings)
    data = spec.data.layer if spec.data is not None and spec.data.layer else next(iter(layers))
    counts = _log2_counts(layers)
    below = sum(counts.get(n, 0.0) for n in {n for c in generative for n in c.between} - {data})
    generated = {c.between[1] for c in generative}
    top = {n: layer for n, layer in layers.items() if n not in generated}
    return max(below, _enumerated(top, couplings))


def _enumerated(layers: dict, couplings) -> float:
    """log2 of the states of ``layers`` left once the largest summable set is summed out."""
    counts = _log2_counts(layers)
    coupled = {frozenset(c.between) for c in couplings if not c.directed}
    names = list(layers)
    best = math.inf
    for r in range(len(names) + 1):
        for chosen in itertools.combinations(names, r):
            if any(frozenset((a, b)) in coupled for a in chosen for b in chosen):
                continue        # a lateral coupling (a, a) or a coupled pair: not summable together
            if any(n not in counts and n not in chosen for n in names):   # gaussian: summed out
                continue
            best = min(best, sum(counts[n] for n in names if n not in chosen and n in counts))
    return best


def check_resources(spec, limit: int | None = None) -> None:
    """SpecError when the spec needs more memory than ``limit`` (default: the machine's), or an
    exact enumeration larger than EXACT_STATES."""
    if spec.model is None:
        return
    problems = []
    limit = limit or machine_memory()
    parts = estimate(spec)
    total = sum(p[0] for p in parts)
    if total > limit:
        size, path, what = parts[0]
        problems.append(Diagnostic(spec.loc(path),
                                   f"this spec needs about {_human(total)} of memory ({what}: "
                                   f"{_human(size)}), more than the {_human(limit)} allowed "
                                   "(the machine's memory, or --max-memory)"))
    ll = spec.evaluate.log_likelihood
    if ll is not None and ll.method == "exact":
        log2_states = exact_states(spec)
        if log2_states > math.log2(EXACT_STATES):
            dbn = any(c.kind == "generative" for c in spec.model.couplings)
            advice = ("use a smaller model, or leave log_likelihood out (a DBN has no AIS "
                      "estimate here)" if dbn else "use method ais (or a smaller model)")
            problems.append(Diagnostic(spec.loc("evaluate.log_likelihood.method"),
                                       f"exact evaluation would enumerate 2^{log2_states:.4g} "
                                       f"joint states, more than the {EXACT_STATES:,} it may; "
                                       + advice))
    if problems:
        raise SpecError(problems)
