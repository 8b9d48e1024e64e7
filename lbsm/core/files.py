"""Files written whole or not at all, and read back safely: the store's file primitives.

A file is written to a temporary file beside it, flushed to disk and renamed into place, so that
a killed process leaves either the old file or the new one, never half of one; it is readable as
the umask allows (a store may be shared by several users). Tensor files are loaded with
``weights_only=True``: nothing but tensors and plain containers is ever unpickled.

A killed writer leaves its temporary file behind (``.NAME.HOST-PID.<random>.tmp``): the next write
into that folder removes it once its process is gone (:func:`clean_stale_tmp`). Several files that
must arrive together (an import) are staged in a hidden folder with a journal and renamed into
place (:func:`publish_staged`); a process killed half-way leaves a folder the next call finishes
(:func:`finish_staged`). A file that fails its checksum only because a git checkout turned its
line endings into CRLF is told apart from a damaged one (:func:`crlf_only`).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import socket
import tempfile
import time
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
        clean_stale_tmp(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_owner()}.", suffix=".tmp")
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


# --------------------------------------------------------------------------- stale temporary files
STALE_SECONDS = 24 * 3600  # a temporary file this old is stale whoever wrote it (another host)
_TMP = re.compile(r"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>[0-9]+)\.[^.]+\.tmp")


def _host() -> str:
    """This machine's name as a temporary file's name may hold it (letters, digits, _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _owner() -> str:
    """``HOST-PID`` of this process, in the name of each temporary file it writes."""
    return f"{_host()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def clean_stale_tmp(folder: Path) -> list[Path]:
    """Remove the temporary files of :func:`write_atomic` in ``folder`` whose writer is gone (a
    ``train --checkpoints`` killed while saving): those of a process of this host that no longer
    runs, and any older than ``STALE_SECONDS``. A writer that still runs keeps its file. Returns
    what was removed."""
    out = []
    with contextlib.suppress(OSError):
        for p in Path(folder).glob(".*.tmp"):
            m = _TMP.fullmatch(p.name)
            with contextlib.suppress(OSError):
                gone = m is not None and m["host"] == _host() and not _alive(int(m["pid"]))
                if gone or time.time() - p.stat().st_mtime > STALE_SECONDS:
                    p.unlink()
                    out.append(p)
    return out


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


def publish_staged(root: Path, sources: dict[str, Path], prefix: str) -> list[str]:
    """Move ``sources`` ({path relative to ``root``: file or folder}) into ``root`` together.

    Each is copied into a hidden staging folder inside ``root`` (``prefix`` + random; the same file
    system, so the moves are renames), then the journal listing them is written (atomically), then
    each is renamed into place and the folder removed. An error puts back what was moved and
    removes the folder: nothing arrives. A process killed after the journal leaves a folder that
    :func:`finish_staged` completes; one killed before it, a folder it removes. Paths already in
    ``root`` are skipped (kept as they are). Returns the paths moved into place. Callers hold a
    lock: one publication per ``root`` and ``prefix`` at a time."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    moved = []
    try:
        for rel, src in sources.items():
            dst = staging / rel
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(src, dst) if Path(src).is_dir() else shutil.copyfile(src, dst)
            except OSError as exc:
                raise _named(exc, root / rel) from exc
        write_atomic(staging / JOURNAL, json.dumps(sorted(sources)).encode())
        _move_in(staging, root, sorted(sources), moved)
    except BaseException:
        for rel in reversed(moved):
            os.replace(root / rel, staging / rel)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return moved


def finish_staged(root: Path, prefix: str) -> list[str]:
    """Complete what a killed :func:`publish_staged` left in ``root``: a staging folder with its
    journal is moved into place (what is already there is kept), one without it (killed while
    copying) is removed. Returns the paths moved into place. Call it under the caller's lock."""
    done = []
    for staging in sorted(Path(root).glob(f"{prefix}*")):
        if not staging.is_dir():
            continue
        try:
            rels = json.loads((staging / JOURNAL).read_text())
        except (OSError, ValueError):
            rels = []
        if isinstance(rels, list) and all(isinstance(r, str) for r in rels):
            _move_in(staging, Path(root), rels, done)
        shutil.rmtree(staging, ignore_errors=True)
    return done


def _move_in(staging: Path, root: Path, rels: list[str], moved: list[str]) -> None:
    """Rename each staged path into ``root``, appending it to ``moved`` as it lands (a path that
    leads out of either folder, is already in ``root`` or is no longer staged is skipped)."""
    for rel in rels:
        src, dst = staging / rel, root / rel
        inside = (src.resolve().is_relative_to(staging.resolve())
                  and dst.resolve().is_relative_to(root.resolve()))
        if inside and src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved.append(rel)


# --------------------------------------------------------------------------- line endings
CRLF_FIX = ("a git checkout with core.autocrlf=true (Windows) converted the published files' LF "
            "line endings to CRLF; they are intact otherwise. Nothing was moved or retrained. Fix "
            "the checkout: `git config core.autocrlf false && git rm -r -q --cached results && git "
            "checkout HEAD -- results` (the repository's .gitattributes marks results/** -text, so "
            "a clone of a current commit keeps LF)")


def crlf_message(files: list[Path]) -> str:
    """Why ``files`` fail their checksums (only their line endings differ) and what to do."""
    return f"{', '.join(map(str, files))}: differ from their checksums only by CRLF line endings: {CRLF_FIX}"


def crlf_only(path: Path, want_sha256: str) -> bool:
    """Whether ``path`` fails its sha256 ``want_sha256`` only by its line endings: it has CRLF
    ones, and with LF ones its sha256 is the one wanted."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    return b"\r\n" in data and hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest() == want_sha256


def crlf_checkout(run_dir: Path) -> list[Path]:
    """The files of the run at ``run_dir`` that fail the checksums of its meta.json, when every
    one of them fails only by CRLF line endings; empty when none does, when any fails otherwise
    (that is damage), or when the checksums cannot be read."""
    try:
        sums = load_json(Path(run_dir) / "meta.json")["sha256"]
        failing = [(Path(run_dir) / n, want) for n, want in sums.items()
                   if "/" not in n and sha256(Path(run_dir) / n) != want]
        return [f for f, want in failing] if all(crlf_only(f, w) for f, w in failing) else []
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []
