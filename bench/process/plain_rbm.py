"""The script a user writes by hand: read MNIST's gz files, binarise at 0.5, train a 784–500 RBM
by CD-1 with momentum in float32 NumPy, save the weights. A contender of ``rbm_process.py``.

    python bench/process/plain_rbm.py MNIST_DIR EPOCHS OUT.npy
"""
import gzip
import sys

import numpy as np


def read_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 784)


def main(folder, epochs, out):
    x = (read_images(f"{folder}/train-images-idx3-ubyte.gz") > 127).astype(np.float32)
    gen = np.random.default_rng(0)
    w = (0.01 * gen.standard_normal((784, 500))).astype(np.float32)
    b, c = np.zeros(784, np.float32), np.zeros(500, np.float32)
    vw, vb, vc = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
    sig = lambda z: 0.5 * (1 + np.tanh(0.5 * z))
    lr, mom, batch = 0.05, 0.5, 100
    for _ in range(epochs):
        data = x[gen.permutation(len(x))]
        for i in range(0, len(data), batch):
            v0 = data[i:i + batch]
            ph0 = sig(v0 @ w + c)
            h0 = (gen.random(ph0.shape, dtype=np.float32) < ph0).astype(np.float32)
            pv1 = sig(h0 @ w.T + b)
            v1 = (gen.random(pv1.shape, dtype=np.float32) < pv1).astype(np.float32)
            ph1 = sig(v1 @ w + c)
            n = len(v0)
            vw *= mom; vw += (lr / n) * (v0.T @ ph0 - v1.T @ ph1); w += vw
            vb *= mom; vb += (lr / n) * (v0 - v1).sum(0); b += vb
            vc *= mom; vc += (lr / n) * (ph0 - ph1).sum(0); c += vc
    np.save(out, w)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
