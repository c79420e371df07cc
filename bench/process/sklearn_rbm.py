"""scikit-learn's BernoulliRBM as a user runs it: read MNIST's gz files, scale to [0, 1] and
binarise at 0.5 (float64, what plain NumPy gives), fit 500 components by PCD for EPOCHS, save the
weights. A contender of ``rbm_process.py``.

    python bench/process/sklearn_rbm.py MNIST_DIR EPOCHS OUT.npy
"""
import gzip
import sys

import numpy as np
from sklearn.neural_network import BernoulliRBM


def main(folder, epochs, out):
    with gzip.open(f"{folder}/train-images-idx3-ubyte.gz", "rb") as f:
        x = (np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784) > 127).astype(np.float64)
    rbm = BernoulliRBM(n_components=500, batch_size=100, n_iter=epochs, learning_rate=0.05, random_state=0)
    rbm.fit(x)
    np.save(out, rbm.components_)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
