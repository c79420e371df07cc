"""PNG figures of a run: learned filters, model samples, training curves."""
from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np

from .png import diverging, grey, upscale, write_png


def _plt():
    with _IMPORT_LOCK:
        return _import_pyplot()


def _import_pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_IMPORT_LOCK = threading.Lock()


def import_in_background() -> None:
    """Start importing matplotlib (half a second) on a thread, while training runs: BLAS releases
    the interpreter, so the import costs the run nothing on its critical path. The thread also
    draws one throw-away figure, since the first figure of a process pays again as much (fonts
    found and loaded, text layout caches); a figure wanted meanwhile waits for the lock. Not a
    daemon: a process that ends mid-import (a short run) waits for it, since the interpreter's
    shutdown under a thread still loading C++ extensions aborts the process."""
    threading.Thread(target=_import_and_warm, name="matplotlib-import").start()


def _import_and_warm() -> None:
    """The thread's work; a failure is left to the figure that needs matplotlib to report."""
    try:
        _warm()
    except Exception:           # noqa: BLE001 (an ImportError, a font cache that cannot be written)
        pass


def _warm() -> None:
    with _IMPORT_LOCK:
        _import_pyplot()
        import io

        from matplotlib.figure import Figure
        fig = Figure(figsize=(2, 2), dpi=50)     # not pyplot's: no figure the run could see
        ax = fig.subplots()
        ax.plot([1, 2], [1, 0], marker="o", markersize=3)
        _label(ax, "epoch", "warm-up")
        fig.tight_layout()
        fig.savefig(io.BytesIO(), format="png")


def _save(fig, path: Path, tight: bool = True) -> None:
    """Written to a temporary name and renamed: a figure is whole or absent."""
    if tight:
        fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        _plt().close(fig)


def _label(ax, xlabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_title(title.replace("_", " "))
    ax.grid(alpha=0.3)


def tile(images: np.ndarray, shape: tuple, pad: int = 1, normalise_each: bool = False,
         columns: int | None = None) -> np.ndarray:
    """(count, prod(shape)) -> one 2-D mosaic, about square (or ``columns`` wide), with ``pad``
    pixels of gap."""
    count = len(images)
    cols = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    h, w = shape
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), np.nan)
    for i, img in enumerate(images):
        img = img.reshape(h, w).astype(float)
        if normalise_each:
            spread = np.abs(img).max()
            img = img / spread if spread > 0 else img
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return canvas


def save_mosaic(path: Path, images: np.ndarray, shape: tuple, title: str, signed: bool = False,
                columns: int | None = None) -> None:
    """The images tiled and written as a PNG directly (no plotting library: see ``png.py``); grey
    in [0, 1], or for ``signed`` weights blue–white–red, each tile scaled to its largest
    magnitude. ``title`` is kept as the PNG's description of what it shows."""
    mosaic = tile(images, shape, normalise_each=signed, columns=columns)
    pixels = diverging(mosaic) if signed else grey(mosaic, 0.0, 1.0)
    write_png(path, upscale(pixels), title)


def save_curves(path: Path, metrics: list[dict], keys: tuple) -> None:
    """One panel per metric in ``keys`` (those present), against the epoch."""
    plt = _plt()
    present = [k for k in keys if any(r.get(k) is not None for r in metrics)]
    if not present:
        return
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.5), dpi=100, squeeze=False)
    staged = any("stage" in r for r in metrics)      # epochs restart in each stage: count them all
    for ax, key in zip(axes[0], present):
        points = [(i + 1 if staged else r["epoch"], r[key]) for i, r in enumerate(metrics) if r.get(key) is not None]
        ax.plot(*zip(*points), marker="o", markersize=3)
        _label(ax, "epoch (all stages)" if staged else "epoch", key)
    _save(fig, path)


def save_codes(path: Path, codes: np.ndarray, pca: np.ndarray, labels: np.ndarray, layer: str) -> None:
    """2-D codes of test images beside their first two principal components, coloured by class
    (as Hinton & Salakhutdinov 2006, Fig. 3)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), dpi=100, layout="constrained")
    for ax, points, title in ((axes[0], pca, "first two principal components"),
                              (axes[1], codes, f"codes: layer {layer}")):
        scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7)
        ax.set_title(title)
    fig.colorbar(scatter, ax=axes, ticks=range(10), label="class")
    _save(fig, path, tight=False)


def save_scatter(path: Path, data: np.ndarray, samples: np.ndarray, title: str) -> None:
    """Data against model samples in the first two dimensions (real-valued visible layers)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(data[:, 0], data[:, 1 % data.shape[1]], s=4, alpha=0.4, label="data")
    ax.scatter(samples[:, 0], samples[:, 1 % samples.shape[1]], s=4, alpha=0.6, label="model samples")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06),   # off the data
              ncol=2, frameon=False)
    ax.set_title(title)
    _save(fig, path)


def save_densities(path: Path, extent: tuple, panels: list[tuple[str, np.ndarray]],
                   data: np.ndarray) -> None:
    """Log-densities on a square grid (``extent`` = (lo, hi) on both axes), side by side, the
    data's first two coordinates over each."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4))
    for ax, (title, log_density) in zip(np.atleast_1d(axes), panels):
        ax.imshow(np.exp(log_density), origin="lower", extent=(*extent, *extent), cmap="magma",
                  aspect="equal")
        ax.scatter(data[:300, 0], data[:300, 1], s=2, c="cyan", alpha=0.5)
        ax.set_title(title, fontsize=9)
    _save(fig, path)


def save_observables(path: Path, scan: dict) -> None:
    """|m|, energy, heat capacity and susceptibility against temperature."""
    plt = _plt()
    keys = ("abs_magnetization", "energy_per_unit", "heat_capacity", "susceptibility")
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.5), dpi=100)
    for ax, key in zip(axes, keys):
        if key == "abs_magnetization":
            ax.errorbar(scan["temperature"], scan[key], yerr=scan["abs_magnetization_stderr"], marker="o",
                        markersize=3, capsize=2)
        else:
            ax.plot(scan["temperature"], scan[key], marker="o", markersize=3)
        _label(ax, "temperature T", key)
    _save(fig, path)


def save_capacity(path: Path, study: dict, rule: str) -> None:
    """Mean final overlap against the load α, one line per network size, for one storage rule."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for n, curve in study[rule]["overlap"].items():
        ax.plot(study["loads"], curve, marker="o", markersize=3, label=f"N = {n}")
    ax.axhline(study["threshold"], color="grey", linestyle="--", linewidth=1)
    if rule == "hebbian":
        ax.axvline(0.138, color="grey", linestyle=":", linewidth=1, label="α_c = 0.138 (N → ∞)")
    ax.set_xlabel("load α = P / N")
    ax.set_ylabel("mean final overlap")
    ax.set_title(f"{rule} storage")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)


def save_tour(path: Path, xy: np.ndarray, tour: list, result: dict) -> None:
    """The best annealed tour over the cities."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    closed = list(tour) + [tour[0]]
    ax.plot(xy[closed, 0], xy[closed, 1], "-o", markersize=6)
    for city, (x, y) in enumerate(xy):
        ax.annotate(str(city), (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_title(f"best tour {result['best_length']:.3f} (optimum {result['optimum_length']:.3f})")
    ax.set_aspect("equal")
    _save(fig, path)


def save_weight_spread(path: Path, log_weights: np.ndarray, log_z: float,
                       reverse_log_z: np.ndarray | None = None) -> None:
    """Left: AIS log importance weights relative to their maximum (a long left tail means a few
    runs carry the estimate: more runs or more β's are needed). Right, with reverse AIS: each
    example's log Ẑ_rev against the forward log Ẑ; the gap between the sides is the estimate's
    remaining uncertainty."""
    plt = _plt()
    panels = 1 if reverse_log_z is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.5), dpi=100, squeeze=False)
    ax = axes[0, 0]
    ax.hist(log_weights - log_weights.max(), bins=30)
    ax.set_ylabel("runs")
    _label(ax, "log w − max log w", f"AIS importance weights ({len(log_weights)} runs)")
    if reverse_log_z is not None:
        ax = axes[0, 1]
        ax.hist(reverse_log_z - log_z, bins=30, color="tab:orange")
        ax.axvline(0.0, color="k", lw=1)
        ax.set_ylabel("examples")
        _label(ax, "log Ẑ_rev(v) − forward log Ẑ", f"reverse AIS ({len(reverse_log_z)} examples)")
    _save(fig, path)


def save_sweep(path: Path, rows: list[dict], keys: list[str], metric: str) -> None:
    """One panel per swept key: ``metric`` of every finished trial against that key's value
    (dots), and its mean over the other axes (line). Numeric values on a numeric axis (log when
    they span a factor of 20 or more), anything else as categories in the sweep's order."""
    keys = [k for k in keys if k != "seed"] or keys      # seeds are replicates: dots, not a panel
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4), dpi=100, squeeze=False)
    done = [r for r in rows if isinstance(r.get(metric), (int, float))]
    for ax, key in zip(axes[0], keys):
        label = {id(r): _hashable(r[key]) for r in rows}      # a list or mapping by its text
        values = list(dict.fromkeys(label.values()))
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        where = {v: (v if numeric else i) for i, v in enumerate(values)}
        xs = [where[label[id(r)]] for r in done]
        ax.plot(xs, [r[metric] for r in done], "o", alpha=0.5, markersize=4)
        means = [(where[v], np.mean([r[metric] for r in done if label[id(r)] == v]))
                 for v in values if any(label[id(r)] == v for r in done)]
        ax.plot(*zip(*sorted(means)), "-", color="C1")
        if numeric and min(values) > 0 and max(values) >= 20 * min(values):
            ax.set_xscale("log")
        ticks = values if numeric else range(len(values))
        if len(values) <= 8:
            ax.set_xticks(list(ticks), [str(v) for v in values])
        ax.set_ylabel(metric)
        _label(ax, key, f"{metric} by {key.rpartition('.')[2]}")
    _save(fig, path)


def _hashable(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
