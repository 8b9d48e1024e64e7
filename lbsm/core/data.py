"""Official data sets as tensors resident on the compute device.

Every file is checked against its published md5 before it is parsed (CIFAR pickles are only
unpickled after the check). Files are found in a data directory: the ``data_dir`` argument, else
the one the entry point chose for the process (``--data-dir`` / ``$LBSM_DATA``, read by ``lbsm.cli``
and ``lbsm.book``), else ``~/.cache/lbsm`` (:mod:`lbsm.core.datadir`). What each data set is (names,
URLs, how to get it, which are licensed) is :mod:`lbsm.core.datasets`. Missing files are downloaded
from the official URLs when ``download=True`` and the network allows, and checked the same way;
an archive carried in parts is joined by :mod:`lbsm.core.parts`.

Preprocessing follows the official code (``X /= 255``): pixels are scaled to [0, 1] and nothing
else is done (the paper: "used without any pre-processing"). Images keep their official layout:
MNIST as flat 784-vectors, CIFAR as (3, 32, 32) planes.
"""
from __future__ import annotations

import errno
import functools
import gzip
import hashlib
import os
import pickle
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .datadir import DataError, data_dir, extract_archive, md5, write_error  # noqa: F401 - data.extract_archive
from .datasets import (CIFAR10_URL, CIFAR100_URL, DATASETS, HOW_TO_GET, LICENSED, MNIST_URL,
                       TIMIT_CLASSES, TIMIT_FEATURES, TIMIT_FORMAT)  # one definition each, there
from .parts import PARTS_MD5, read_parts_md5, reassemble, split  # noqa: F401 - data.split, ...


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def subset(self, train: int | None = None, test: int | None = None) -> "Dataset":
        """The first ``train`` / ``test`` examples in the official order (None keeps all)."""
        def head(t, n):
            if n is not None and n > len(t):
                raise ValueError(f"{self.name}: asked for {n} examples, the set has {len(t)}")
            return t if n is None else t[:n]
        return Dataset(self.name, head(self.x_train, train), head(self.y_train, train),
                       head(self.x_test, test), head(self.y_test, test), self.num_classes)

    def to(self, device) -> "Dataset":
        return Dataset(self.name, *(t.to(device) for t in
                       (self.x_train, self.y_train, self.x_test, self.y_test)), self.num_classes)


# name -> (files relative to the data directory with their md5); where to get them: lbsm.core.datasets
MNIST_FILES = {
    "mnist/train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "mnist/train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "mnist/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "mnist/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FILES = {
    **{f"cifar-10-batches-py/data_batch_{i}": m for i, m in enumerate(
        ["c99cafc152244af753f735de768cd75f", "d4bba439e000b95fd0a9bffe97cbabec",
         "54ebc095f3ab1f0389bbae665268c751", "634d18415352ddfa80567beed471001a",
         "482c414d41f54cd18b22e5b47cb7c3cb"], start=1)},
    "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR100_ARCHIVE_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
CIFAR100_FILES = {
    "cifar-100-python/train": "16019d7e3df5f24257cddd939b257f8d",
    "cifar-100-python/test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
}
TIMIT_FILES = ("timit/train.npz", "timit/test.npz")


def expected_files(name: str) -> dict[str, str | None]:
    """Files (relative to the data directory) a data set needs, with their md5 (None: no sum)."""
    return {"mnist": MNIST_FILES, "cifar10": CIFAR10_FILES, "cifar100": CIFAR100_FILES,
            "timit": dict.fromkeys(TIMIT_FILES)}[_check_name(name)]


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def check(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """Problems with a data set's files (empty list: all present with the right md5)."""
    root = data_dir(root)
    problems = []
    for rel, want in expected_files(name).items():
        path = root / rel
        if not path.is_file():
            problems.append(f"missing {path}")
        elif want is not None and (got := md5(path)) != want:
            problems.append(f"wrong md5 for {path}: {got}, expected {want} (truncated or corrupt: "
                            "delete it and fetch it again)")
    return problems


def verified_path(name: str, rel: str, root: Path) -> Path:
    """Path of one file after its md5 matched; raises DataError naming the fix otherwise."""
    want = expected_files(name)[rel]
    path = root / rel
    if not path.is_file():
        raise DataError(
            f"{name}: missing file {path}.\nExpected in data directory {root}: "
            f"{', '.join(expected_files(name))}.\nTo get them: {HOW_TO_GET[name]}.\n"
            "The data directory is the data_dir argument, else $LBSM_DATA (or --data-dir) as the "
            "command read it, else ~/.cache/lbsm.")
    if want is not None and (got := md5(path)) != want:
        raise DataError(f"{name}: {path} has md5 {got} but the official file has {want}; the file "
                        f"is truncated or corrupt and was not loaded. Delete it and {HOW_TO_GET[name]}.")
    return path


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    got, = np.frombuffer(raw[:4], ">i4")
    if got != magic:
        raise DataError(f"{path}: IDX magic {got}, expected {magic}")
    ndim = magic & 0xFF
    shape = tuple(np.frombuffer(raw[4:4 + 4 * ndim], ">i4"))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_mnist(root: Path):
    arrays = [_read_idx(verified_path("mnist", rel, root), 2051 if "images" in rel else 2049)
              for rel in MNIST_FILES]
    xtr, ytr, xte, yte = arrays
    return xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte, 10


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")  # only called after the md5 matched


def _load_cifar10(root: Path):
    paths = [verified_path("cifar10", rel, root) for rel in CIFAR10_FILES]  # all checked first
    batches = [_unpickle(p) for p in paths]
    x = [b[b"data"].reshape(-1, 3, 32, 32) for b in batches]
    y = [np.asarray(b[b"labels"]) for b in batches]
    return np.concatenate(x[:5]), np.concatenate(y[:5]), x[5], y[5], 10


def _load_cifar100(root: Path):
    paths = [verified_path("cifar100", rel, root) for rel in CIFAR100_FILES]
    train, test = (_unpickle(p) for p in paths)
    return (train[b"data"].reshape(-1, 3, 32, 32), np.asarray(train[b"fine_labels"]),
            test[b"data"].reshape(-1, 3, 32, 32), np.asarray(test[b"fine_labels"]), 100)


def _load_timit(root: Path):
    out = []
    for rel in TIMIT_FILES:
        x, y = _read_timit(verified_path("timit", rel, root))
        out += [x.astype(np.float32), y]
    return (*out, TIMIT_CLASSES)


def _read_timit(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of one user-supplied TIMIT file, after checking everything about them;
    raises DataError naming the file, what is wrong and the expected format otherwise."""
    def bad(problem: str) -> DataError:
        return DataError(f"{path}: {problem}. Expected {TIMIT_FORMAT}.")

    if path.stat().st_size == 0:
        raise bad("the file is empty (0 bytes)")
    try:
        f = np.load(path, allow_pickle=False)
    except Exception as exc:  # whatever numpy's parsers raise on a damaged file
        with open(path, "rb") as fh:
            zipped = fh.read(4) == b"PK\x03\x04"
        # other files end up in numpy's pickle branch, refused: its words would mislead
        raise bad("a truncated or corrupt .npz archive" + _reason(exc) if zipped
                  else "not an .npz archive (numpy.savez format)") from exc
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise bad(f"a single array ({type(f).__name__}), not an .npz archive of 'x' and 'y'")
    with f:
        if missing := [k for k in ("x", "y") if k not in f.files]:
            raise bad(f"missing array(s) {', '.join(map(repr, missing))} (it has "
                      f"{', '.join(map(repr, f.files)) or 'no arrays'})")
        arrays = {}
        for k in ("x", "y"):
            try:
                arrays[k] = f[k]
            except Exception as exc:  # whatever numpy's parsers raise on a damaged member
                if "bject arrays" in str(exc):  # refused, as allow_pickle=False asks
                    raise bad(f"array {k!r} holds Python objects (dtype object); save a "
                              "plain numeric array") from exc
                raise bad(f"array {k!r} is truncated or corrupt" + _reason(exc)) from exc
    x, y = arrays["x"], arrays["y"]
    if not np.issubdtype(x.dtype, np.floating):
        raise bad(f"x has dtype {x.dtype}; it must be a float array (cast with "
                  "x.astype(np.float32))")
    if x.ndim != 2 or x.shape[1] != TIMIT_FEATURES:
        raise bad(f"x has shape {x.shape}; it must be [N, {TIMIT_FEATURES}]")
    if y.ndim != 1:
        raise bad(f"y has shape {y.shape}; y must be 1-D of length N = {len(x)} "
                  "(one label per row of x)")
    if not np.issubdtype(y.dtype, np.integer):
        whole = (np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all()
                 and (y == np.round(y)).all())
        hint = ("; the values are whole numbers: cast them with y.astype(np.int64)" if whole
                else f"; save the class indices 0..{TIMIT_CLASSES - 1} as an integer array")
        raise bad(f"y has dtype {y.dtype}; labels must be integers{hint}")
    if len(x) != len(y):
        raise bad(f"x has {len(x)} rows but y has {len(y)} labels; they must be equal")
    if len(x) == 0:
        raise bad("no examples (N = 0)")
    out = np.flatnonzero((y < 0) | (y >= TIMIT_CLASSES))
    if len(out):
        raise bad(f"{len(out)} label(s) outside 0..{TIMIT_CLASSES - 1}, the first "
                  f"y[{out[0]}] = {y[out[0]]}")
    count, first = 0, None
    for start in range(0, len(x), 1 << 16):  # in blocks: a mask of all of x would be large
        nonfinite = ~np.isfinite(x[start:start + (1 << 16)])
        if n := int(nonfinite.sum()):
            count += n
            if first is None:
                row, col = np.argwhere(nonfinite)[0]
                first = (start + int(row), int(col))
    if count:
        raise bad(f"x has {count} NaN or infinite value(s), the first at x[{first[0]}, "
                  f"{first[1]}] = {x[first]}")
    return x, y


def _reason(exc: Exception) -> str:
    """`` (numpy's words)`` for a message; nothing where they would suggest unpickling."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "" if not text or "pickle" in text else f" ({type(exc).__name__}: {text})"


def fingerprint(name: str, root: str | os.PathLike | None = None) -> str | None:
    """Identity of a user-supplied data set's files: the md5 of their md5s (TIMIT), so that runs on
    different feature files get different keys in the results store. None for the official data
    sets, whose files are fixed by their published md5."""
    files = expected_files(name)
    if all(want is not None for want in files.values()):
        return None
    root = data_dir(root)
    h = hashlib.md5()
    for rel in files:
        path = verified_path(name, rel, root)
        st = path.stat()
        h.update(f"{rel}:{_md5_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=32)
def _md5_cached(path: str, size: int, mtime_ns: int) -> str:
    return md5(Path(path))  # size and mtime in the cache key: a rewritten file is hashed again


@functools.lru_cache(maxsize=8)
def _load_cpu(name: str, root: Path) -> Dataset:
    xtr, ytr, xte, yte, k = {"mnist": _load_mnist, "cifar10": _load_cifar10,
                             "cifar100": _load_cifar100, "timit": _load_timit}[name](root)

    def features(x):
        t = torch.from_numpy(np.array(x))  # a writable copy
        t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
        # images channels-last (NHWC in memory, NCHW in shape): oneDNN's convolutions run ~2x
        # faster on it (C1 in bf16 on 2 cores); minibatch indexing keeps the layout
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
    return Dataset(name, features(xtr), torch.from_numpy(np.asarray(ytr, np.int64)),
                   features(xte), torch.from_numpy(np.asarray(yte, np.int64)), k)


def load(name: str, root: str | os.PathLike | None = None, device: str | torch.device = "cpu",
         download: bool = False) -> Dataset:
    """Load a data set (``mnist``, ``cifar10``, ``cifar100``, ``timit``) onto ``device``.

    Inputs are float32 scaled to [0, 1] (pixels / 255, as the official code); labels int64.
    """
    root = data_dir(root)
    _check_name(name)
    if download and check(name, root):
        fetch(name, root)
    return _load_cpu(name, root.resolve()).to(device)


def fetch(name: str, root: str | os.PathLike | None = None) -> None:
    """Download a data set from its official URL into the data directory and check every md5."""
    root = data_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    if name in LICENSED:
        raise DataError(HOW_TO_GET[name])
    if name == "mnist":
        (root / "mnist").mkdir(exist_ok=True)
        for rel in MNIST_FILES:
            _download(MNIST_URL + Path(rel).name, root / rel)
    else:
        url, want = {"cifar10": (CIFAR10_URL, CIFAR10_ARCHIVE_MD5),
                     "cifar100": (CIFAR100_URL, CIFAR100_ARCHIVE_MD5)}[_check_name(name)]
        archive = root / Path(url).name
        _download(url, archive)
        if md5(archive) != want:
            archive.unlink()
            raise DataError(f"{url}: downloaded archive has the wrong md5 (expected {want}); removed")
        extract_archive(archive, root)  # a full disk names the file it was writing
        archive.unlink()
    if problems := check(name, root):
        raise DataError(f"{name}: after download: " + "; ".join(problems))


def _offline_hint(dest: Path) -> str:
    """What to do by hand on a machine without network, naming files that are actually read: the
    MNIST .gz files are read where they lie; a CIFAR archive is only a download step, read by
    nothing, so the hint says to unpack it."""
    if dest.suffix == ".gz" and dest.parent.name == "mnist":
        return f"copy the official file to {dest} by hand"
    return (f"on a machine with network, download {dest.name} from that URL, copy it here and "
            f"unpack it into {dest.parent} (`tar xzf {dest.name} -C {dest.parent}`): the unpacked "
            "folder is what is read, the archive itself is not")


def _download(url: str, dest: Path) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            while block := r.read(1 << 20):
                f.write(block)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise write_error(exc, tmp, f"downloading {url}") from None
        raise DataError(f"could not download {url} ({exc}); {_offline_hint(dest)}") from exc
    os.replace(tmp, dest)
