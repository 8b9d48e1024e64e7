"""The data directory at the file level: where it is, a file's md5, unpacking an archive into it,
and :class:`DataError`, the error every data check raises.

Files are found in a data directory: the ``data_dir`` argument, else the one the entry point chose
for the process (:func:`choose_data_dir`: ``lbsm.cli`` and ``lbsm.book`` read ``--data-dir`` /
``$LBSM_DATA`` once and pass it here; a Dask worker is handed it as an argument), else
``~/.cache/lbsm``. Nothing here reads the environment. What each data set needs in it, and how its
files are read, is :mod:`lbsm.core.data`; carrying an archive in parts is :mod:`lbsm.core.parts`.

A write that fails (a full disk above all) names the file it was writing and the fix
(:func:`write_error`); a truncated or corrupt archive names the archive and says to fetch it
again.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import lzma
import os
import tarfile
import zlib
from pathlib import Path


class DataError(RuntimeError):
    """A data file is missing, corrupt or of the wrong format; the message says how to fix it."""


DEFAULT_DATA_DIR = Path("~/.cache/lbsm")
_CHOSEN: dict[str, Path | None] = {"data": None}  # the data directory the entry point chose


def choose_data_dir(path: str | os.PathLike | None) -> Path | None:
    """Make ``path`` the data directory of this process (None: no choice, ``~/.cache/lbsm``); the
    entry points call it once with what they read, a Dask worker with the directory its task was
    handed. Returns the choice it replaced, which ``choose_data_dir(old)`` restores."""
    if path is not None and not str(path).strip():
        raise ValueError("the data directory is an empty string; pass a folder or leave it out")
    old = _CHOSEN["data"]
    _CHOSEN["data"] = None if path is None else Path(path).expanduser()
    return old


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else the one the entry point chose, else ``~/.cache/lbsm``."""
    if path is None:
        path = _CHOSEN["data"] if _CHOSEN["data"] is not None else DEFAULT_DATA_DIR
    return Path(path).expanduser()


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_error(exc: OSError, path: Path, doing: str,
                fix: str = "point $LBSM_DATA (or --data-dir) at another disk") -> DataError:
    """A DataError for ``exc`` raised while writing ``path`` (``doing``: what for): a full disk or
    quota names the file and says to free space there or ``fix``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(f"{path}: the disk is full ({exc.strerror}) while {doing}; free space on "
                         f"that disk or {fix}, then run the command again")
    return DataError(f"{path}: {exc.strerror or exc} while {doing}")


# what a truncated or corrupt .tar.gz / .tar.xz raises while it is read
BROKEN_ARCHIVE = (EOFError, tarfile.TarError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


def extract_archive(archive: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Unpack a tar (e.g. ``cifar-10-batches-py.tar.xz``) into the data directory, member by
    member: a full disk names the file being written, a truncated or corrupt archive names the
    archive (what was unpacked from it is incomplete: the md5 checks refuse it)."""
    if not Path(archive).is_file():
        raise DataError(f"{archive}: no such file; download or copy the archive first")
    root = data_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                target = root / member.name
                tar.extract(member, root, filter="data")
    except BROKEN_ARCHIVE as exc:
        raise DataError(f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc}); "
                        "what was unpacked from it is incomplete. Download or copy the archive "
                        "again (`python -m lbsm data download NAME` fetches and md5-checks it)") from None
    except OSError as exc:
        raise write_error(exc, target, f"unpacking {archive}") from None
    return root
