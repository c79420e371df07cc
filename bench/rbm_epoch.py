"""One epoch of a 784–500 binary RBM, CD-1, batch 100, on full MNIST: ebmlang against the plain
NumPy loop a user would write and against scikit-learn's BernoulliRBM, timed in the same run.

    python bench/rbm_epoch.py [--backend numpy|cupy] [--batch 100] [--repeats 3] [--mnist DIR]

ebmlang's time is an epoch of a run of many: its trainer is kept from one timed run to the next
(the untimed warm-up is its first epoch). On CuPy it adds the CUDA-graph floor (the GEMMs
captured once and replayed) and, where PyTorch happens to be installed with a GPU, the PyTorch
loop a user would write (never a dependency); and ebmlang three times more: with its step run
eagerly (no CUDA graph), with matmul_precision tf32, and the first epoch of a fresh trainer
(which warms the step up and captures it).

Prints seconds per epoch and the ratios (ebmlang / plain loop; scikit-learn / ebmlang). Each
contender first runs once untimed (the first to touch fresh memory pays its page faults), then
the timed repeats alternate their order, and each keeps its best of ``repeats``, since a shared
machine's noise only ever adds time. Aims (issue 2): ≤ 1.15× the plain loop, ≥ 3× faster than
scikit-learn. scikit-learn runs on NumPy only: with float64 input (its default, what a user gets
from plain NumPy arrays) and with float32 input (which it keeps, running the same GEMMs as we do,
so it is bounded by the same GEMM floor, also printed).
"""
from __future__ import annotations

import time

import numpy as np

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import get_namespace
from ebmlang.backend.matmul import matmul
from ebmlang.data.mnist import load_mnist
from ebmlang.train import Trainer

from common import NextEpoch, parse_args, sync, time_alternating, time_trainer_epoch

SPEC = """
name: bench
dtype: float32
data: {source: mnist, binarize: 0.5}    # the benchmark feeds the same images to every contender
model:
  layers:
    v: {size: 784, units: binary}
    h: {size: 500, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 0.01}}}
train: {rule: cd, k: 1, epochs: 100, batch_size: BATCH, optimizer: {sgd: {lr: 0.05, momentum: 0.5}}}
"""


def plain_loop_epoch(x, w, b, c, vw, vb, vc, batch, lr, mom, seed, xp):
    """The loop a user writes by hand: CD-1 with momentum, shuffled minibatches."""
    gen = np.random.default_rng(seed)
    x = x[xp.asarray(gen.permutation(len(x)))]
    rand = xp.random.default_rng(seed) if xp is not np else gen
    sig = lambda z: 0.5 * (1 + xp.tanh(0.5 * z))
    for i in range(0, len(x), batch):
        v0 = x[i:i + batch]
        ph0 = sig(v0 @ w + c)
        h0 = (rand.random(ph0.shape, dtype=np.float32) < ph0).astype(np.float32)
        pv1 = sig(h0 @ w.T + b)
        v1 = (rand.random(pv1.shape, dtype=np.float32) < pv1).astype(np.float32)
        ph1 = sig(v1 @ w + c)
        n = len(v0)
        vw *= mom; vw += (lr / n) * (v0.T @ ph0 - v1.T @ ph1); w += vw
        vb *= mom; vb += (lr / n) * (v0 - v1).sum(0); b += vb
        vc *= mom; vc += (lr / n) * (ph0 - ph1).sum(0); c += vc


def time_plain(x, batch, xp, seed):
    gen = np.random.default_rng(seed)
    w = xp.asarray(0.01 * gen.standard_normal((784, 500)), dtype=np.float32)
    b, c = xp.zeros(784, np.float32), xp.zeros(500, np.float32)
    vw, vb, vc = xp.zeros_like(w), xp.zeros_like(b), xp.zeros_like(c)
    t0 = time.perf_counter()
    plain_loop_epoch(x, w, b, c, vw, vb, vc, batch, 0.05, 0.5, seed, xp)
    sync(xp)
    return time.perf_counter() - t0


def ebmlang_trainer(batch: int, backend: str, seed: int, precision: str = "ieee"):
    """(trainer, state) of the benchmark's RBM; ``precision`` tf32 is the spec's
    matmul_precision option."""
    overrides = [f"seed={seed}", f"matmul_precision={precision}", f"backend={backend}"]
    spec = parse_spec(SPEC.replace("BATCH", str(batch)), "bench.yaml", overrides)
    model = compile_spec(spec, backend)
    trainer = Trainer(model.program, spec.train, ("v",), seed)
    return trainer, trainer.init_state(model.params)


def next_epoch(batch, backend, graphs=True, precision="ieee") -> NextEpoch:
    """ebmlang's next epoch; on CuPy its step replays as a CUDA graph unless ``graphs`` is False
    (train/graph.py)."""
    return NextEpoch(lambda: ebmlang_trainer(batch, backend, 0, precision), "v", graphs, precision)


def time_first_epoch(x, batch, backend, seed):
    """The first epoch of a fresh trainer: its warm-up step and capture included."""
    return time_trainer_epoch(*ebmlang_trainer(batch, backend, seed), x, "v", True)


def time_gemm_floor(x, batch, xp, seed):
    """The five GEMMs of a CD-1 update, issued as ebmlang's kernels issue them (backend.matmul),
    and nothing else: no implementation can go below this."""
    w = xp.asarray(0.01 * np.random.default_rng(seed).standard_normal((784, 500)), dtype=np.float32)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        gemms(x[i:i + batch], w)
    sync(xp)
    return time.perf_counter() - t0


def gemms(v, w):
    h = matmul(v, w)
    v1 = matmul(h, w.T)
    h1 = matmul(v1, w)
    matmul(v.T, h)
    matmul(v1.T, h1)


def time_graph_floor(x, batch, xp, seed):
    """The same GEMMs for a whole epoch recorded once as a CUDA graph and replayed (CuPy): what
    is left when no launch costs anything. Full batches only."""
    from ebmlang.backend.graphs import Capture
    w = xp.asarray(0.01 * np.random.default_rng(seed).standard_normal((784, 500)), dtype=np.float32)

    def epoch():
        for i in range(0, len(x) - batch + 1, batch):
            gemms(x[i:i + batch], w)

    capture = Capture(xp)
    sync(xp)
    capture.follow()                        # w, on the default stream, is ready
    with capture.stream:
        gemms(x[:batch], w)                 # the cuBLAS handle is made outside the capture
        graph = capture.record(epoch)
        capture.launch(graph)               # the first launch uploads the graph
        capture.synchronize()
        t0 = time.perf_counter()
        capture.launch(graph)
        capture.synchronize()
    return time.perf_counter() - t0


def usable(contender, *args) -> bool:
    """Whether a bench-only contender runs here at all (a tiny run first): one that cannot is
    left out with its reason, rather than taking the other contenders' figures down with it."""
    try:
        return contender(*args) is not None
    except Exception as exc:
        print(f"  ({contender.__name__} left out: {type(exc).__name__}: {exc})")
        return False


def time_torch(host, batch, seed):
    """The PyTorch loop a GPU user writes in ten minutes (bench only: never a dependency);
    None without torch or a CUDA device."""
    try:
        import torch
    except ImportError:
        return None             # any other failure (a build without this GPU) tells its reason
    if not torch.cuda.is_available():
        return None
    gen = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.from_numpy(host).cuda()
    w = 0.01 * torch.randn(784, 500, device="cuda", generator=gen)
    b, c = torch.zeros(784, device="cuda"), torch.zeros(500, device="cuda")
    vw, vb, vc = torch.zeros_like(w), torch.zeros_like(b), torch.zeros_like(c)
    lr, mom = 0.05, 0.5
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    x = x[torch.randperm(len(x), device="cuda", generator=gen)]
    for i in range(0, len(x), batch):
        v0 = x[i:i + batch]
        ph0 = torch.sigmoid(v0 @ w + c)
        h0 = (torch.rand(ph0.shape, device="cuda", generator=gen) < ph0).float()
        pv1 = torch.sigmoid(h0 @ w.T + b)
        v1 = (torch.rand(pv1.shape, device="cuda", generator=gen) < pv1).float()
        ph1 = torch.sigmoid(v1 @ w + c)
        n = len(v0)
        vw.mul_(mom).add_(v0.T @ ph0 - v1.T @ ph1, alpha=lr / n)
        w += vw
        vb.mul_(mom).add_((v0 - v1).sum(0), alpha=lr / n)
        b += vb
        vc.mul_(mom).add_((ph0 - ph1).sum(0), alpha=lr / n)
        c += vc
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def time_sklearn(x, batch, seed):
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        return None
    rbm = BernoulliRBM(n_components=500, batch_size=batch, n_iter=1, learning_rate=0.05, random_state=seed)
    t0 = time.perf_counter()
    rbm.fit(x)
    return time.perf_counter() - t0



def main():
    args = parse_args(__doc__)
    xp = get_namespace(args.backend)
    images = load_mnist(args.mnist)["train_images"]
    host = (images > 127).astype(np.float32)
    x = xp.asarray(host)
    times = {"ebmlang": [], "plain loop": [], "GEMM floor": [], "sklearn f64": [], "sklearn f32": []}
    ebmlang = next_epoch(args.batch, args.backend)
    contenders = [("ebmlang", lambda r: ebmlang(x)),
                  ("plain loop", lambda r: time_plain(x, args.batch, xp, r)),
                  ("GEMM floor", lambda r: time_gemm_floor(x, args.batch, xp, r))]
    if args.backend == "cupy":
        eager, tf32 = next_epoch(args.batch, "cupy", False), next_epoch(args.batch, "cupy", True, "tf32")
        contenders += [("ebmlang eager", lambda r: eager(x)), ("ebmlang tf32", lambda r: tf32(x)),
                       ("ebmlang 1st epoch", lambda r: time_first_epoch(x, args.batch, "cupy", r))]
        times.update({"ebmlang eager": [], "ebmlang tf32": [], "ebmlang 1st epoch": []})
        if usable(time_graph_floor, x[: args.batch * 2], args.batch, xp, 0):
            contenders.append(("CUDA graph floor", lambda r: time_graph_floor(x, args.batch, xp, r)))
            times["CUDA graph floor"] = []
        if usable(time_torch, host[: args.batch * 2], args.batch, 0):
            contenders.append(("PyTorch loop", lambda r: time_torch(host, args.batch, r)))
            times["PyTorch loop"] = []
    time_alternating(contenders, args.repeats, times)
    if args.backend == "numpy":   # scikit-learn: its default float64, and float32
        for r in range(2):
            for name, data in (("sklearn f64", host.astype(np.float64)), ("sklearn f32", host)):
                t = time_sklearn(data, args.batch, r)
                if t is not None:
                    times[name].append(t)
    best = {k: min(v) for k, v in times.items() if v}
    print(f"784-500 RBM, CD-1, batch {args.batch}, one epoch of {len(host)} images, backend {args.backend}")
    for name, t in best.items():
        print(f"  {name:<17} {t:8.4f} s   (best of {len(times[name])})")
    print(f"ratio ebmlang / plain loop       = {best['ebmlang'] / best['plain loop']:.3f}   (aim ≤ 1.15)")
    print(f"ratio ebmlang / GEMM floor       = {best['ebmlang'] / best['GEMM floor']:.3f}")
    for name in ("CUDA graph floor", "PyTorch loop"):
        if name in best:
            print(f"ratio ebmlang / {name:<16} = {best['ebmlang'] / best[name]:.3f}")
    for name in ("ebmlang eager", "ebmlang tf32", "ebmlang 1st epoch"):
        if name in best:
            print(f"ratio {name} / ebmlang = {best[name] / best['ebmlang']:.3f}   "
                  "(the step as a CUDA graph, IEEE float32, is ebmlang)")
    for name in ("sklearn f64", "sklearn f32"):
        if name in best:
            print(f"ratio {name} / ebmlang     = {best[name] / best['ebmlang']:.2f}    (aim ≥ 3)")
    if "sklearn f64" not in best and args.backend == "numpy":
        print("scikit-learn not installed: no comparison (pip install scikit-learn)")


if __name__ == "__main__":
    main()
