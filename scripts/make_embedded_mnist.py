"""Write ebmlang/data/mnist_embedded.npz: the first 5,000 training and 1,000 test images of MNIST.

Usage: python scripts/make_embedded_mnist.py [MNIST_DIR]   (default ../shared/data/mnist)
The subset ships inside the package so that a fresh install trains offline.
"""
import sys
from pathlib import Path

import numpy as np

from ebmlang.data.mnist import load_mnist

TRAIN, TEST = 5000, 1000

if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1] / ".." / "shared/data/mnist")
    m = load_mnist(source)
    out = Path(__file__).resolve().parents[1] / "ebmlang" / "data" / "mnist_embedded.npz"
    np.savez_compressed(out, train_images=m["train_images"][:TRAIN], train_labels=m["train_labels"][:TRAIN],
                        test_images=m["test_images"][:TEST], test_labels=m["test_labels"][:TEST])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
