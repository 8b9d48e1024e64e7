"""The data directory at the file level: where it is, a file's md5, unpacking an archive into it,
and :class:`DataError`, the error every data check raises.

Files are found in a data directory: the ``data_dir`` argument, else ``$LBSM_DATA``, else
``~/.cache/lbsm``. What each data set needs in it, and how its files are read, is
:mod:`lbsm.core.data`; carrying an archive in parts is :mod:`lbsm.core.parts`.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path


class DataError(RuntimeError):
    """A data file is missing, corrupt or of the wrong format; the message says how to fix it."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else ``$LBSM_DATA``, else ``~/.cache/lbsm``."""
    if path is None:
        path = os.environ.get("LBSM_DATA") or Path.home() / ".cache" / "lbsm"
    return Path(path).expanduser()


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def extract_archive(archive: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Unpack a tar (e.g. ``cifar-10-batches-py.tar.xz``) into the data directory."""
    root = data_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root
