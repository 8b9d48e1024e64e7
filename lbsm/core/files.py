"""Files written whole or not at all, and read back safely: the store's file primitives.

A file is written to a temporary file beside it, flushed to disk and renamed into place, so that
a killed process leaves either the old file or the new one, never half of one; it is readable as
the umask allows (a store may be shared by several users). Tensor files are loaded with
``weights_only=True``: nothing but tensors and plain containers is ever unpickled.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import torch


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set and reset."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("Umask:"))
        return int(line.split()[1], 8)
    old = os.umask(0o022)
    os.umask(old)
    return old


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (temporary file, fsync, rename). The file is readable as
    the umask allows (``mkstemp`` makes 0600 files: a second user of a shared store could not read
    them). A failure names the path (a full disk says which file system)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _named(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _named(exc, path) from exc
        raise


def _named(exc: OSError, path: Path) -> OSError:
    hint = (" (free space there, or point $LBSM_RESULTS / $LBSM_WEIGHTS at another disk)"
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "")
    return type(exc)(exc.errno, f"{exc.strerror or exc} while writing {path}{hint}")


def save_torch(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue())


def load_torch(path: Path, device="cpu"):
    """A tensor file from the store; never unpickles anything but tensors and plain containers."""
    return torch.load(path, map_location=device, weights_only=True)


def save_json(obj, path: Path) -> None:
    write_atomic(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


def load_json(path: Path):
    return json.loads(Path(path).read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def state_sha256(state: dict) -> str:
    """The sha256 of a model's weights (a state dict): every tensor's name, dtype, shape and bytes,
    in name order. Two runs have the same hash exactly when their weights are bitwise equal, however
    the file that holds them was written (``torch.save`` output is not byte-stable)."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state_sha256: {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


# --------------------------------------------------------------------------- files arriving together
JOURNAL = "JOURNAL.json"  # in a staging folder: what it holds, written once everything is staged
