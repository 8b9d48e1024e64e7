import pickle
import shutil

import numpy as np
import pytest
import torch

from lbsm.core import data as D


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


# --------------------------------------------------------------------------- user TIMIT files
@pytest.fixture
def train_npz(tmp_path, timit_writer):
    """TIMIT files in ``tmp_path``; the training file's path."""
    return timit_writer(tmp_path) / "timit/train.npz"


def _x(n=3):
    return np.zeros((n, 360), np.float32)


def _nonfinite(p):
    x = _x(6)
    x[3, 7], x[4, 1] = np.nan, np.inf
    np.savez(p, x=x, y=np.zeros(6, int))


def _corrupt_member(p):  # intact archive directory, damaged array header inside
    np.savez_compressed(p, x=_x(50) + 1, y=np.zeros(50, int))
    b = p.read_bytes()
    p.write_bytes(b[:60] + bytes(200) + b[260:])


DAMAGED = {
    "empty": (lambda p: p.write_bytes(b""), "the file is empty (0 bytes)"),
    "text": (lambda p: p.write_text("0.1 0.2 0.3\n"), "not an .npz archive (numpy.savez format)"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps({"x": 1})), "not an .npz archive"),
    "npy": (lambda p: np.save(open(p, "wb"), _x()), "a single array (ndarray), not an .npz archive"),
    "truncated": (lambda p: (np.savez(p, x=_x(50), y=np.zeros(50, int)),
                             p.write_bytes(p.read_bytes()[:5000])), "a truncated or corrupt .npz archive"),
    "corrupt member": (_corrupt_member, "array 'x' is truncated or corrupt"),
    "missing y": (lambda p: np.savez(p, x=_x()), "missing array(s) 'y' (it has 'x')"),
    "missing x and y": (lambda p: np.savez(p, a=_x()), "missing array(s) 'x', 'y' (it has 'a')"),
    "object x": (lambda p: np.savez(p, x=np.array([1, "a"], dtype=object), y=np.zeros(2, int)),
                 "array 'x' holds Python objects"),
    "integer x": (lambda p: np.savez(p, x=np.zeros((3, 360), int), y=np.zeros(3, int)),
                  "x has dtype int64; it must be a float array (cast with x.astype(np.float32))"),
    "x not 360": (lambda p: np.savez(p, x=np.zeros((3, 100), np.float32), y=np.zeros(3, int)),
                  "x has shape (3, 100); it must be [N, 360]"),
    "x 1-D": (lambda p: np.savez(p, x=np.zeros(360, np.float32), y=np.zeros(1, int)),
              "x has shape (360,); it must be [N, 360]"),
    "nan in x": (_nonfinite, "x has 2 NaN or infinite value(s), the first at x[3, 7] = nan"),
    "y [N, 1]": (lambda p: np.savez(p, x=_x(), y=np.zeros((3, 1), int)),
                 "y has shape (3, 1); y must be 1-D of length N = 3"),
    "y float whole": (lambda p: np.savez(p, x=_x(), y=np.array([0.0, 1.0, 2.0])),
                      "labels must be integers; the values are whole numbers: cast them with "
                      "y.astype(np.int64)"),
    "y float": (lambda p: np.savez(p, x=_x(), y=np.array([0.5, 1.0, 2.0])),
                "y has dtype float64; labels must be integers; save the class indices 0..1972"),
    "label too large": (lambda p: np.savez(p, x=_x(), y=np.array([0, 1973, 5])),
                        "1 label(s) outside 0..1972, the first y[1] = 1973"),
    "negative label": (lambda p: np.savez(p, x=_x(), y=np.array([0, 2, -1])),
                       "1 label(s) outside 0..1972, the first y[2] = -1"),
    "N mismatch": (lambda p: np.savez(p, x=_x(3), y=np.zeros(4, int)),
                   "x has 3 rows but y has 4 labels; they must be equal"),
    "N == 0": (lambda p: np.savez(p, x=_x(0), y=np.zeros(0, int)), "no examples (N = 0)"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_timit_damaged_file_is_refused_naming_file_and_format(tmp_path, kind, train_npz):
    path = train_npz
    write, message = DAMAGED[kind]
    write(path)
    with pytest.raises(D.DataError) as e:
        D.load("timit", tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and message in msg
    assert "Expected two .npz files" in msg and r"float32 [N, 360]" in msg  # the format
    assert "allow_pickle" not in msg


def test_timit_test_file_is_checked_too(tmp_path, train_npz):
    np.savez(tmp_path / "timit/test.npz", x=_x(), y=np.zeros(4, int))
    with pytest.raises(D.DataError, match=r"timit/test\.npz: x has 3 rows but y has 4 labels"):
        D.load("timit", tmp_path)


def test_timit_is_loaded_without_unpickling(tmp_path, monkeypatch, train_npz):
    seen = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: seen.append(k.get("allow_pickle")) or real(*a, **k))
    D.load("timit", tmp_path)
    assert seen == [False, False]


def test_timit_float64_features_become_float32(tmp_path, train_npz):
    np.savez(tmp_path / "timit/train.npz", x=np.ones((4, 360)), y=np.arange(4, dtype=np.uint16))
    ds = D.load("timit", tmp_path)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.tolist() == [0, 1, 2, 3]


def test_fingerprint_of_user_data_follows_its_files(tmp_path, timit_writer):
    a, b = timit_writer(tmp_path / "a", seed=0), timit_writer(tmp_path / "b", seed=1)
    fa = D.fingerprint("timit", a)
    assert fa is not None and len(fa) == 32 and fa == D.fingerprint("timit", a)
    assert D.fingerprint("timit", b) != fa
    for rel in D.TIMIT_FILES:  # a's files replaced by b's: a is hashed again, equal to b
        shutil.copyfile(b / rel, a / rel)
    assert D.fingerprint("timit", a) == D.fingerprint("timit", b)


def test_fingerprint_of_official_data_is_none(tmp_path):
    assert all(D.fingerprint(n, tmp_path) is None for n in ("mnist", "cifar10", "cifar100"))
    with pytest.raises(D.DataError, match="missing file"):
        D.fingerprint("timit", tmp_path)
    with pytest.raises(ValueError, match="unknown data set"):
        D.fingerprint("svhn")
