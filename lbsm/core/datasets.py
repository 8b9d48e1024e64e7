"""What each data set is, as constants: its name, where its official files come from, how to get
them, and which are licensed. Constants only (no file is read or checked here): the report words
them, and :mod:`lbsm.core.data`, which reads and md5-checks the files, imports them from here, so
each keeps one definition.
"""
from __future__ import annotations

DATASETS = ("mnist", "cifar10", "cifar100", "timit")
LICENSED = ("timit",)  # no download: licensed, its files brought by hand (HOW_TO_GET); the rest
# are free downloads that `python -m lbsm data download NAME` fetches and md5-checks

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
TIMIT_FEATURES = 360   # features per frame (e.g. 40 filterbanks x 9 frames)
TIMIT_CLASSES = 1973   # tied HMM states: labels 0..1972
TIMIT_FORMAT = ("two .npz files, timit/train.npz and timit/test.npz, each with 'x' float32 "
                f"[N, {TIMIT_FEATURES}] (Kaldi features, e.g. 40 filterbanks x 9 frames) and 'y' "
                f"integer [N] in 0..{TIMIT_CLASSES - 1} (tied HMM-state targets), as written by "
                "np.savez(path, x=x, y=y)")
HOW_TO_GET = {
    "mnist": f"run `python -m lbsm data download mnist` (fetches {MNIST_URL}), or copy the four "
             "official .gz files into DATA_DIR/mnist/",
    "cifar10": f"run `python -m lbsm data download cifar10` (fetches {CIFAR10_URL}), or extract the "
               "official archive into DATA_DIR so that DATA_DIR/cifar-10-batches-py/ exists",
    "cifar100": f"run `python -m lbsm data download cifar100` (fetches {CIFAR100_URL}), or extract "
                "the official archive into DATA_DIR so that DATA_DIR/cifar-100-python/ exists",
    "timit": "TIMIT (LDC93S1) is licensed and cannot be downloaded: extract features with Kaldi and "
             f"save them as {TIMIT_FORMAT}",
}
