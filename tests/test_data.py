import gzip
import pickle
import shutil

import numpy as np
import pytest
import torch

from lbsm import data as D


def test_mnist_official_files(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.dtype == torch.float32 and mnist.y_train.dtype == torch.int64
    assert 0.0 == mnist.x_train.min() and mnist.x_train.max() == 1.0  # pixels / 255
    assert sorted(mnist.y_train.unique().tolist()) == list(range(10))
    assert mnist.num_classes == 10
    # a known fact of the official file: the first training label is 5
    assert mnist.y_train[0].item() == 5


def test_cifar10_official_files(data_root):
    if D.check("cifar10", data_root):
        pytest.fail("CIFAR-10 not staged: run `make data`")
    ds = D.load("cifar10", data_root)
    assert ds.x_train.shape == (50000, 3, 32, 32) and ds.x_test.shape == (10000, 3, 32, 32)
    mean = ds.x_train.mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.tensor([0.4914, 0.4822, 0.4465]), atol=1e-4)
    assert np.bincount(ds.y_test.numpy()).tolist() == [1000] * 10


def _copy_mnist(src, dst):
    (dst / "mnist").mkdir(parents=True)
    for rel in D.MNIST_FILES:
        shutil.copyfile(src / rel, dst / rel)


def test_missing_file_message_names_files_directory_and_fix(tmp_path):
    with pytest.raises(D.DataError) as e:
        D.load("mnist", tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "train-images-idx3-ubyte.gz" in msg
    assert "lbsm data download mnist" in msg


def test_truncated_file_is_refused(tmp_path, data_root):
    _copy_mnist(data_root, tmp_path)
    f = tmp_path / "mnist/t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-100])
    assert any("wrong md5" in p for p in D.check("mnist", tmp_path))
    with pytest.raises(D.DataError, match="md5"):
        D.load("mnist", tmp_path)


def _write_cifar100(root, n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    d = root / "cifar-100-python"
    d.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        obj = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
               b"fine_labels": rng.integers(0, 100, n).tolist(),
               b"coarse_labels": rng.integers(0, 20, n).tolist()}
        with open(d / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)
    return obj


def test_cifar100_loader_official_format(tmp_path, monkeypatch):
    _write_cifar100(tmp_path)
    # synthetic files: accept their own md5s in place of the official ones
    monkeypatch.setattr(D, "CIFAR100_FILES", {rel: D.md5(tmp_path / rel) for rel in D.CIFAR100_FILES})
    D._load_cpu.cache_clear()
    ds = D.load("cifar100", tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.num_classes == 100
    raw = pickle.load(open(tmp_path / "cifar-100-python/train", "rb"), encoding="bytes")
    assert torch.equal(ds.x_train[3], torch.from_numpy(raw[b"data"][3].reshape(3, 32, 32)).float() / 255)


def test_cifar_pickle_is_not_unpickled_before_md5(tmp_path, monkeypatch):
    _write_cifar100(tmp_path)  # synthetic files do not have the official md5
    called = []
    monkeypatch.setattr(D, "_unpickle", lambda p: called.append(p))
    D._load_cpu.cache_clear()
    with pytest.raises(D.DataError, match="md5"):
        D.load("cifar100", tmp_path)
    assert called == []


def test_timit_user_features(tmp_path):
    (tmp_path / "timit").mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 50), ("test", 20)):
        np.savez(tmp_path / f"timit/{name}.npz", x=rng.standard_normal((n, 360)).astype(np.float32),
                 y=rng.integers(0, 1973, n))
    D._load_cpu.cache_clear()
    ds = D.load("timit", tmp_path)
    assert ds.x_train.shape == (50, 360) and ds.num_classes == 1973


def test_timit_wrong_shape_says_the_format(tmp_path):
    (tmp_path / "timit").mkdir()
    for name in ("train", "test"):
        np.savez(tmp_path / f"timit/{name}.npz", x=np.zeros((5, 100), np.float32), y=np.zeros(5, int))
    D._load_cpu.cache_clear()
    with pytest.raises(D.DataError, match=r"float32 \[N, 360\]"):
        D.load("timit", tmp_path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        D.load("svhn")


def test_subset_takes_first_examples(mnist):
    s = mnist.subset(100, 10)
    assert len(s.x_train) == 100 and len(s.y_test) == 10
    assert torch.equal(s.x_train, mnist.x_train[:100])
    with pytest.raises(ValueError, match="asked for"):
        mnist.subset(10 ** 6)
