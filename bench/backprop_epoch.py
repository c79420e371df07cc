"""One epoch of backpropagation through the 784-1000-500-250-30 deep autoencoder (Hinton &
Salakhutdinov 2006), batch 100, Adam, on full MNIST: ebmlang against the plain NumPy loop a user
would write and against scikit-learn's MLPRegressor fitting X → X with the same layers.

    python bench/backprop_epoch.py [--backend numpy|cupy] [--batch 100] [--repeats 3] [--mnist DIR]

Prints seconds per epoch and the ratios measured in this run (ebmlang / plain loop;
scikit-learn / ebmlang; on CuPy also ebmlang's eager steps / its steps replayed as a CUDA
graph). Every contender first runs once untimed, then the timed repeats alternate their order,
each keeping its best (noise only ever adds time); ebmlang's trainer is kept from run to run,
each timing its next epoch, as in a run of many. Aims (issue 9): ≤ 1.1×
the plain loop, faster than scikit-learn. The plain loop and ebmlang compute the same thing
(sigmoid layers, a linear code, cross-entropy on the pixels, Adam); scikit-learn's MLP has one
activation for every hidden layer (logistic) and squared error, but the same GEMMs.
"""
from __future__ import annotations

import time

import numpy as np

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import get_namespace
from ebmlang.data.mnist import load_mnist
from ebmlang.train import Trainer

from common import NextEpoch, parse_args, sync, time_alternating

SIZES = [784, 1000, 500, 250, 30]
SPEC = """
name: bench
dtype: float32
data: {source: mnist}       # not loaded: the benchmark feeds the same array to every contender
template:
  autoencoder:
    layers: [784, 1000, 500, 250, 30]
    finetune: {epochs: 100, batch_size: BATCH, optimizer: {adam: {lr: 0.001}}}
"""


class PlainAutoencoder:
    """The loop a user writes by hand: weights W[i] (in, out) and biases b[i] for the 8 maps of
    the unrolled net, sigmoid everywhere but the linear code, cross-entropy on the output, Adam."""

    def __init__(self, xp, seed: int):
        gen = np.random.default_rng(seed)
        sizes = SIZES + SIZES[-2::-1]
        self.xp = xp
        self.w = [xp.asarray(0.1 * gen.standard_normal((a, b)), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
        self.b = [xp.zeros(b, np.float32) for b in sizes[1:]]
        self.params = self.w + self.b
        self.m = [xp.zeros_like(p) for p in self.params]
        self.s = [xp.zeros_like(p) for p in self.params]
        self.t = 0

    def epoch(self, x, batch: int, seed: int, lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999) -> None:
        xp = self.xp
        x = x[xp.asarray(np.random.default_rng(seed).permutation(len(x)))]
        sig = lambda z: 0.5 * (1 + xp.tanh(0.5 * z))
        code = len(SIZES) - 2                                     # index of the linear map into the code
        for i in range(0, len(x), batch):
            acts = [x[i:i + batch]]
            for j, (w, b) in enumerate(zip(self.w, self.b)):
                z = acts[-1] @ w + b
                acts.append(z if j == code else sig(z))
            delta = (acts[-1] - acts[0]) / len(acts[0])          # ∂(mean cross-entropy)/∂z at the output
            grads_w, grads_b = [None] * len(self.w), [None] * len(self.b)
            for j in range(len(self.w) - 1, -1, -1):
                grads_w[j], grads_b[j] = acts[j].T @ delta, delta.sum(0)
                if j:
                    delta = delta @ self.w[j].T
                    if j - 1 != code:
                        delta *= acts[j] * (1 - acts[j])
            self.t += 1
            rate = lr * (1 - b2 ** self.t) ** 0.5 / (1 - b1 ** self.t)
            for p, g, m, s in zip(self.params, grads_w + grads_b, self.m, self.s):
                m *= b1; m += (1 - b1) * g
                s *= b2; s += (1 - b2) * g * g
                p -= rate * m / (xp.sqrt(s) + 1e-8)


def time_plain(x, batch, xp, seed):
    net = PlainAutoencoder(xp, seed)
    t0 = time.perf_counter()
    net.epoch(x, batch, seed)
    sync(xp)
    return time.perf_counter() - t0


def next_epoch(batch, backend, graphs: bool = True) -> NextEpoch:
    """ebmlang's next epoch (see NextEpoch); on CuPy with the step captured as a CUDA graph, or
    (with ``graphs`` False) launched eagerly kernel by kernel."""
    def make():
        spec = parse_spec(SPEC.replace("BATCH", str(batch)), "bench.yaml", ["seed=0"])
        model = compile_spec(spec, backend, data_mean={"v": np.full(784, 0.13)})
        trainer = Trainer(model.program, spec.stages[0], ("v",), 0)
        return trainer, trainer.init_state(model.params)
    return NextEpoch(make, "v", graphs)


def time_sklearn(x, batch, seed):
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return None
    import warnings
    mlp = MLPRegressor(hidden_layer_sizes=(1000, 500, 250, 30, 250, 500, 1000), activation="logistic",
                       solver="adam", batch_size=batch, max_iter=1, shuffle=True, random_state=seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "did not converge after 1 iteration"
        mlp.fit(x, x)
    return time.perf_counter() - t0



def main():
    args = parse_args(__doc__)
    xp = get_namespace(args.backend)
    host = (load_mnist(args.mnist)["train_images"] / 255.0).astype(np.float32)
    x = xp.asarray(host)
    times = {"ebmlang": [], "ebmlang eager": [], "plain loop": [], "sklearn f32": []}
    ebmlang, eager = next_epoch(args.batch, args.backend), next_epoch(args.batch, args.backend, False)
    contenders = [("ebmlang", lambda r: ebmlang(x)),
                  ("plain loop", lambda r: time_plain(x, args.batch, xp, r))]
    if args.backend == "cupy":          # the same step without its CUDA graph
        contenders.append(("ebmlang eager", lambda r: eager(x)))
    time_alternating(contenders, args.repeats, times)
    if args.backend == "numpy":
        t = time_sklearn(host, args.batch, 0)
        if t is not None:
            times["sklearn f32"].append(t)
    best = {k: min(v) for k, v in times.items() if v}
    print(f"784-1000-500-250-30 autoencoder, Adam, batch {args.batch}, one epoch of {len(host)} images, "
          f"backend {args.backend}")
    for name, t in best.items():
        print(f"  {name:<12} {t:7.3f} s   (best of {len(times[name])})")
    print(f"ratio ebmlang / plain loop   = {best['ebmlang'] / best['plain loop']:.3f}   (aim ≤ 1.1)")
    if "ebmlang eager" in best:
        print(f"ratio eager / captured       = {best['ebmlang eager'] / best['ebmlang']:.2f}    "
              "(what the CUDA graph saves)")
    if "sklearn f32" in best:
        print(f"ratio sklearn f32 / ebmlang  = {best['sklearn f32'] / best['ebmlang']:.2f}    (aim > 1)")
    elif args.backend == "numpy":
        print("scikit-learn not installed: no comparison (pip install scikit-learn)")


if __name__ == "__main__":
    main()
