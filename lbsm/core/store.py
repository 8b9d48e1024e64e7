"""Results store: the published results dataset (tracked in git) and the local weights cache.

One rule for everything that is expensive: a result is a file addressed by the hash of every input
that changes it (and a code version); it is computed once, under a lock, written atomically, and
served from the file ever after. Layout (``results/README.md`` documents it for pandas users)::

    ROOT/runs/<net>-<key>/config.json     the TrainConfig the key hashes (with the code version)
                          meta.json       status, epochs, wall time, precision used, provenance
                          history.csv     per-epoch metrics
                          retrained.json  (only after a retrain) deviation from the published history
    ROOT/analyses/<kind>/<key>.json       params, value and provenance of one analysis
    ROOT/MANIFEST.sha256                  the published dataset: sha256 of every file above
    WEIGHTS/<net>-<key>/{x0,final,resume}.pt, epochs/NNNN.pt   weights: an ignored local cache

ROOT is the ``root`` argument, else ``$LBSM_RESULTS``, else the repository's ``results/`` (the
published dataset) when the package runs from a checkout, else ``./results``. WEIGHTS is
``$LBSM_WEIGHTS``, else ``ROOT/weights`` (ignored by git). A run's metadata is written last: its
presence marks the run finished.

Verification is not optional: every file the store serves is covered by a checksum the reader
requires. ``meta.json`` holds the sha256 of ``config.json`` and ``history.csv`` and, in
``meta_sha256``, the sha256 of its own content (without that field); an analysis holds the sha256
of its own content in ``sha256``. A run's key is recomputed from its ``config.json`` and an
analysis' key from its kind, version and params on every read: a file filed under another key is
damage. A missing or malformed checksum is damage too, never a pass. A damaged file is moved to
``ROOT/damaged/`` (never deleted) with a message naming it, and the next request computes it again;
the analyses of a run set aside (or retrained with other weights) are set aside with it, so
that nothing computed from the old weights is served next to the new. ``MANIFEST.sha256``
(``sha256sum`` format) pins the published dataset as a whole: ``python -m lbsm runs --verify``
checks it, ``--write-manifest`` writes it. Damaged weights (a truncated ``final.pt``) are set
aside the same way and the run is retrained. Locks (``ROOT/.locks``, ``fcntl.flock``, released by
the kernel when a process dies) make concurrent workers compute each run or analysis once; a killed
worker leaves no lock behind and no half-written file (temporary file, then rename).

A store may be shared (a cluster file system): files are readable as the umask allows, and a
reader that cannot read or move a file (no permission) raises :class:`StoreAccessError` naming it
and moves nothing.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[2]
MANIFEST = "MANIFEST.sha256"
RUN_FILES = ("config.json", "history.csv")  # checksummed in meta.json
PUBLISHED_RUN_FILES = ("config.json", "meta.json", "history.csv", "retrained.json")
HEX64 = re.compile(r"[0-9a-f]{64}")
KEY = re.compile(r"[0-9a-f]{16}")
# names a store may hold: runs/<NET>-<key>/<file>, analyses/<kind>/<key>.json (archives, manifests)
PUBLISHED_PATH = re.compile(r"runs/[A-Za-z0-9]+-[0-9a-f]{16}/(config\.json|meta\.json|history\.csv|"
                            r"retrained\.json)|analyses/[a-z0-9_]+/[0-9a-f]{16}\.json")
STATUSES = ("done", "diverged")


def _env_path(var: str) -> Path | None:
    """``$var`` as a path; None if unset. Set but empty is an error, not a silent fallback."""
    value = os.environ.get(var)
    if value is None:
        return None
    if not value.strip():
        raise ValueError(f"${var} is set but empty; unset it or set it to a folder")
    return Path(value).expanduser()


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """The results root: ``root``, ``$LBSM_RESULTS``, the checkout's ``results/``, or ``./results``."""
    if root is not None:
        if not str(root).strip():
            raise ValueError("the results folder is an empty string; pass a folder (--results DIR) "
                             "or leave it out for $LBSM_RESULTS / the published results/")
        path, what = Path(root).expanduser(), f"results folder {root}"
    elif (path := _env_path("LBSM_RESULTS")) is not None:
        what = f"$LBSM_RESULTS {path}"
    elif (REPO / "pyproject.toml").is_file() and (REPO / "lbsm").is_dir():
        return REPO / "results"
    else:
        return Path("results")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} is a file, not a folder; point it at a results folder")
    return path


def config_key(config: dict) -> str:
    """Stable hash of a config dict (sorted-key JSON)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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


def _content_sha(record: dict, field: str = "sha256") -> str:
    """Checksum of a record's content (everything but the checksum ``field`` itself)."""
    body = {k: v for k, v in record.items() if k != field}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def seal_meta(meta: dict) -> dict:
    """``meta`` with ``meta_sha256``: the checksum that covers meta.json's own content."""
    meta = json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"}, default=str))
    return {**meta, "meta_sha256": _content_sha(meta, "meta_sha256")}


def seal_record(record: dict) -> dict:
    """An analysis record with ``sha256``: the checksum of its content."""
    record = json.loads(json.dumps({k: v for k, v in record.items() if k != "sha256"}, default=str))
    return {**record, "sha256": _content_sha(record)}


class DamagedError(RuntimeError):
    """A stored file is unreadable or inconsistent; it has been set aside (see the message)."""


class StoreAccessError(PermissionError):
    """The store cannot be read or changed by this user; nothing was moved (see the message)."""


def _access_error(path: Path, problem: str | None = None) -> StoreAccessError:
    what = f"{problem}; it" if problem else str(path)
    return StoreAccessError(
        f"{what} cannot be {'set aside' if problem else 'read'}: permission denied for this user "
        f"(a shared store). Nothing was moved or rewritten; ask the store's owner to fix it "
        f"(`python -m lbsm runs --verify --results {path_root(path)}` lists what is wrong) or to "
        "make the store readable (chmod -R a+rX), or use a store of your own (--results DIR)")


def path_root(path: Path) -> Path:
    """The store root above a path under runs/ or analyses/ (for messages)."""
    for parent in Path(path).parents:
        if parent.name in ("runs", "analyses"):
            return parent.parent
    return Path(path).parent


def meta_problem(meta) -> str | None:
    """What is wrong with the shape of a loaded meta.json (None: the fields the store needs are
    there and of the right type; the checksums are checked by the caller)."""
    if not isinstance(meta, dict):
        return f"not a JSON object (a {type(meta).__name__})"
    if meta.get("status") not in STATUSES:
        return f"status {meta.get('status')!r} is not one of {', '.join(STATUSES)}"
    n = meta.get("epochs_run")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return f"epochs_run {n!r} is not a whole number >= 0"
    sums = meta.get("sha256")
    if not isinstance(sums, dict) or set(sums) != set(RUN_FILES) or \
            not all(isinstance(v, str) and HEX64.fullmatch(v) for v in sums.values()):
        return (f"sha256 {sums!r} is missing or malformed (it must hold the sha256 of "
                f"{' and '.join(RUN_FILES)}): the files cannot be verified")
    return None


def analysis_problem(record, path: Path | None = None) -> str | None:
    """What is wrong with a loaded analysis record (None: intact). With ``path``, the record must
    also be filed under its own kind and key."""
    if not isinstance(record, dict):
        return f"not a JSON object (a {type(record).__name__})"
    for k, t in (("kind", str), ("version", int), ("params", dict), ("provenance", dict),
                 ("sha256", str)):
        if not isinstance(record.get(k), t) or (t is int and isinstance(record.get(k), bool)):
            return f"field {k!r} is missing or not a {t.__name__}"
    if record.get("value") is None:
        return "field 'value' is missing"
    if not HEX64.fullmatch(record["sha256"]) or record["sha256"] != _content_sha(record):
        return "checksum mismatch (the file changed after it was written)"
    if path is not None:
        key = config_key({"kind": record["kind"], "version": record["version"],
                          "params": record["params"]})
        if path.parent.name != record["kind"] or path.stem != key:
            return (f"filed as {path.parent.name}/{path.name} but its kind, version and params "
                    f"belong in {record['kind']}/{key}.json")
    return None


def _refers_to(params, name: str) -> bool:
    """Whether any parameter value (in lists and dicts too) is the run name ``name``."""
    if isinstance(params, dict):
        return any(_refers_to(v, name) for v in params.values())
    if isinstance(params, (list, tuple)):
        return any(_refers_to(v, name) for v in params)
    return params == name


class Store:
    """The results store: runs and analyses under ``root``, weights under ``weights``."""

    def __init__(self, root: str | os.PathLike | None = None, weights: str | os.PathLike | None = None):
        self.root = results_dir(root)
        if weights is not None and not str(weights).strip():
            raise ValueError("the weights folder is an empty string; pass a folder or leave it out")
        w = Path(weights).expanduser() if weights is not None else _env_path("LBSM_WEIGHTS")
        self.weights_root = w if w is not None else self.root / "weights"
        if self.weights_root.exists() and not self.weights_root.is_dir():
            raise ValueError(f"weights folder {self.weights_root} is a file; point $LBSM_WEIGHTS "
                             "at a folder")

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, weights={str(self.weights_root)!r})"

    # ----------------------------------------------------------------------------- runs
    def run_dir(self, net: str, key: str) -> Path:
        return self.root / "runs" / f"{net}-{key}"

    def weights_dir(self, run_name: str) -> Path:
        return self.weights_root / run_name

    def is_finished(self, path: Path) -> bool:
        return (path / "meta.json").is_file()

    def run_dirs(self) -> list[Path]:
        """Folders of finished runs (a hidden folder, e.g. an import's staging, is none)."""
        return [p.parent for p in sorted(self.root.glob("runs/*/meta.json"))
                if not p.parent.name.startswith(".")]

    def runs(self) -> pd.DataFrame:
        """One row per finished, intact run: its config and metadata. Damaged runs are left out
        (not moved) and listed in ``df.attrs["damaged"]`` as "file: problem" lines; runs this
        user may not read in ``df.attrs["unreadable"]``."""
        rows, damaged, unreadable = [], [], []
        for d in self.run_dirs():
            try:
                problem = self.run_problem(d)
            except StoreAccessError as exc:
                unreadable.append(str(exc))
                continue
            if problem:
                damaged.append(problem)
                continue
            rows.append({"run": d.name, **load_json(d / "config.json"), **load_json(d / "meta.json")})
        df = pd.DataFrame(rows)
        df.attrs["damaged"], df.attrs["unreadable"] = damaged, unreadable
        return df

    # ----------------------------------------------------------------------------- verification
    def run_problem(self, path: Path, require_meta_sha: bool = True) -> str | None:
        """None for an intact finished run, else "<file>: <what is wrong>". Raises
        StoreAccessError where a file cannot be read for lack of permission (that is no damage)."""
        path = Path(path)
        try:
            return self._run_problem(path, require_meta_sha)
        except PermissionError as exc:
            raise _access_error(Path(exc.filename or path)) from None

    def _run_problem(self, path: Path, require_meta_sha: bool) -> str | None:
        mp = path / "meta.json"
        try:
            meta = load_json(mp)
        except PermissionError:
            raise
        except (OSError, ValueError) as exc:
            return f"{mp}: unreadable ({exc})"
        if problem := meta_problem(meta):
            return f"{mp}: {problem}"
        if "meta_sha256" in meta or require_meta_sha:
            if meta.get("meta_sha256") != _content_sha(meta, "meta_sha256"):
                why = ("checksum mismatch (the file changed after it was written)"
                       if "meta_sha256" in meta else
                       "no meta_sha256: its own content is not covered (written by code older "
                       "than that checksum, or edited); if this store is yours and trusted, "
                       "`python -m lbsm runs --write-manifest` seals it")
                return f"{mp}: {why}"
        for name, want in meta["sha256"].items():
            f = path / name
            if not f.is_file():
                return f"{f}: missing"
            if sha256(f) != want:
                return f"{f}: checksum mismatch (the file changed after it was written)"
        try:
            config = load_json(path / "config.json")
            history = pd.read_csv(path / "history.csv")
        except PermissionError:
            raise
        except (OSError, ValueError) as exc:
            return f"{path}: unreadable config.json or history.csv ({exc})"
        if not isinstance(config, dict) or not isinstance(config.get("net"), str):
            return f"{path / 'config.json'}: not a training config (no net)"
        want = f"{config['net']}-{config_key(config)}"
        if path.name != want:
            return (f"{path / 'config.json'}: this config's key makes the run {want}, but it is "
                    f"filed as {path.name} (a run under another config's key)")
        if "epoch" not in history.columns:
            return f"{path / 'history.csv'}: no epoch column (not a history written by lbsm)"
        epochs = meta["epochs_run"]
        try:
            last_epoch = None if history.empty else int(history.epoch.iloc[-1])
        except (TypeError, ValueError):
            return f"{path / 'history.csv'}: the epoch column is not numeric"
        if last_epoch != epochs:
            last = "no rows" if history.empty else f"ends at epoch {last_epoch}"
            return f"{path / 'history.csv'}: {last}, meta.json says {epochs} epochs"
        return None

    def orphans(self) -> list[Path]:
        """Stored analyses that name a run (``run``, ``sb`` or ``lb`` parameter) the store does not
        hold, e.g. after a profile stopped training it."""
        names = {p.name for p in self.run_dirs()}
        out = []
        for path, rec in self._analysis_files():
            params = rec["params"] if isinstance(rec, dict) and isinstance(rec.get("params"), dict) else {}
            if any(params.get(k) is not None and params[k] not in names for k in ("run", "sb", "lb")):
                out.append(path)
        return out

    def _analysis_files(self, kind: str | None = None):
        """(path, loaded record or None when unreadable) of every stored analysis (of ``kind``)."""
        for path in sorted(self.root.glob(f"analyses/{kind or '*'}/*.json")):
            if path.name.startswith(".") or path.parent.name.startswith("."):
                continue
            try:
                yield path, load_json(path)
            except PermissionError:
                raise _access_error(path) from None
            except (OSError, ValueError):
                yield path, None

    def seal(self) -> dict:
        """Add ``meta_sha256`` to runs whose files verify but whose meta.json was written without
        it (by code older than that checksum); returns how many runs were sealed. A run or analysis
        without its file checksums is damage and is not sealed (that is how a forgery looks)."""
        runs = 0
        for d in self.run_dirs():
            meta = load_json(d / "meta.json")
            if isinstance(meta, dict) and "meta_sha256" not in meta and \
                    self.run_problem(d, require_meta_sha=False) is None:
                save_json(seal_meta(meta), d / "meta.json")
                runs += 1
        return {"runs": runs, "analyses": 0}

    def set_aside(self, path: Path, problem: str | None = None) -> Path:
        """Move a damaged file or run folder under ``ROOT/damaged/`` (never deleted). A user who may
        not move it (a shared, read-only store) gets StoreAccessError and nothing moves."""
        path = Path(path)
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            rel = Path(path.name)
        dest = self.root / "damaged" / f"{rel}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
        except OSError as exc:
            if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
                raise _access_error(path, problem or f"{path}: damaged") from None
            raise
        return dest

    def check_run(self, path: Path) -> None:
        """Raise DamagedError (after setting the run and its analyses aside) unless the run at
        ``path`` is intact."""
        problem = self.run_problem(path)
        if problem and self.run_problem(path, require_meta_sha=False) is None:
            # intact but unsealed (written by code older than meta_sha256, or the field deleted):
            # not served, and not moved either: retraining a whole freshly copied dataset
            # because one command was not run yet would be the wrong answer
            raise DamagedError(f"{problem}. Nothing was moved; if the store is trusted, seal it "
                               f"with `python -m lbsm runs --write-manifest --results {self.root}`,"
                               f" else remove {path} to train it anew.")
        if problem:
            dest = self.set_aside(path, problem)
            stale = self.set_aside_analyses_of(path.name, f"computed from run {path.name}, set aside "
                                                          f"in {dest}")
            extra = f" {len(stale)} analyses of it were set aside with it." if stale else ""
            raise DamagedError(f"{problem}. The run was set aside in {dest};{extra} run the same "
                               "command again to train it anew.")

    def set_aside_analyses_of(self, run_name: str, why: str) -> list[Path]:
        """Set aside every analysis whose params name run ``run_name``: they were computed from
        weights that no longer exist (the run was damaged, or retrained with other weights), and
        serving them next to analyses of the new weights would mix two minimizers. They are
        computed again when next requested."""
        out = []
        for path, rec in self._analysis_files():
            if isinstance(rec, dict) and _refers_to(rec.get("params"), run_name):
                dest = self.set_aside(path, f"{path}: stale ({why})")
                warnings.warn(f"{path}: stale ({why}); set aside in {dest}, computing it again "
                              "when next requested")
                out.append(dest)
        return out

    def find(self, name: str) -> Path:
        """A run directory from its name, key, or a unique key prefix."""
        if not isinstance(name, str) or not name.strip():
            raise KeyError(f"the run name is empty; give a run name or key prefix (list them with "
                           f"`python -m lbsm runs --results {self.root}`)")
        hits = [p for p in (self.root / "runs").glob("*") if not p.name.startswith(".") and (
                name in (p.name, p.name.split("-", 1)[-1]) or p.name.split("-", 1)[-1].startswith(name))]
        if len(hits) != 1:
            raise KeyError(f"{'no' if not hits else len(hits)} runs match {name!r} in {self.root}/runs"
                           " (list them with `python -m lbsm runs`)")
        return hits[0]

    # ----------------------------------------------------------------------------- manifest
    def published_files(self) -> list[str]:
        """The dataset's files (runs and analyses), relative to the root, sorted."""
        files = [p for d in self.run_dirs() for p in (d / f for f in PUBLISHED_RUN_FILES) if p.is_file()]
        files += [p for p, _ in self._analysis_files()]
        return sorted(str(p.relative_to(self.root)) for p in files)

    def read_manifest(self) -> dict[str, str]:
        """{relative path: sha256} of ``MANIFEST.sha256``; ValueError naming the line when a line
        is malformed or names a path outside the store's runs/ and analyses/."""
        path = self.root / MANIFEST
        out = {}
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            digest, sep, rel = line.partition("  ")
            if not (sep and HEX64.fullmatch(digest) and PUBLISHED_PATH.fullmatch(rel)) or \
                    not (self.root / rel).resolve().is_relative_to(self.root.resolve()):
                raise ValueError(f"{path} line {i}: {line[:120]!r} is not 'SHA256  runs/... or "
                                 "analyses/...' (write it anew with `python -m lbsm runs "
                                 "--write-manifest` once the store verifies)")
            out[rel] = digest
        return out

    def verify(self, require_manifest: bool | None = None) -> dict:
        """Check the whole store: every run and analysis (schema, key, checksums) and the manifest
        (every listed file present with its sha256). Returns {"problems": [...], "unlisted": [...],
        "checked": n}: problems are "file: what is wrong" lines; unlisted are files added since the
        manifest was written (each verified by its own checksums). ``require_manifest`` (default:
        for the checkout's published results/) makes a missing manifest a problem."""
        problems, unlisted = [], []
        for d in self.run_dirs():
            if p := self.run_problem(d):
                problems.append(p)
        for path, rec in self._analysis_files():
            if p := (analysis_problem(rec, path) if rec is not None else "unreadable JSON"):
                problems.append(f"{path}: {p}")
        files = self.published_files()
        if require_manifest is None:
            require_manifest = self.root.resolve() == (REPO / "results").resolve()
        if (self.root / MANIFEST).is_file():
            try:
                listed = self.read_manifest()
            except ValueError as exc:
                problems.append(str(exc))
                listed = {}
            for rel, digest in listed.items():
                f = self.root / rel
                if not f.is_file():
                    problems.append(f"{f}: listed in {MANIFEST} but missing")
                elif sha256(f) != digest:
                    problems.append(f"{f}: its sha256 differs from {MANIFEST} (changed since the "
                                    "manifest was written)")
            unlisted = [rel for rel in files if rel not in listed]
        elif require_manifest:
            problems.append(f"{self.root / MANIFEST}: missing (write it with `python -m lbsm runs "
                            f"--write-manifest --results {self.root}` once the store verifies)")
        return {"problems": problems, "unlisted": unlisted, "checked": len(files)}

    def write_manifest(self) -> dict:
        """Seal runs written without ``meta_sha256``, verify everything, then write
        ``MANIFEST.sha256`` over every run and analysis file. Refuses (ValueError naming the files)
        while anything fails to verify: a manifest vouches only for what checks out."""
        sealed = self.seal()["runs"]
        found = self.verify(require_manifest=False)
        # a manifest being replaced is no reason to refuse: only the files themselves count
        bad = [p for p in found["problems"] if MANIFEST not in p]
        if bad:
            raise ValueError(f"{len(bad)} file(s) of {self.root} fail verification, no manifest "
                             "written:\n  " + "\n  ".join(bad))
        files = self.published_files()
        write_atomic(self.root / MANIFEST,
                     "".join(f"{sha256(self.root / rel)}  {rel}\n" for rel in files).encode())
        return {"files": len(files), "sealed": sealed, "manifest": str(self.root / MANIFEST)}

    # ----------------------------------------------------------------------------- locks
    @contextlib.contextmanager
    def lock(self, name: str):
        """Exclusive lock ``name`` across processes and workers sharing this store."""
        path = self.root / ".locks" / f"{name}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "a")
        except PermissionError:
            raise StoreAccessError(f"{path}: cannot take the lock (no write permission in "
                                   f"{self.root}): this store is read-only for this user, so "
                                   "nothing can be computed into it; use --results DIR of your "
                                   "own") from None
        with f:
            with contextlib.suppress(OSError):
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # ----------------------------------------------------------------------------- analyses
    def analysis_path(self, kind: str, params: dict, version: int) -> Path:
        key = config_key({"kind": kind, "version": version, "params": params})
        return self.root / "analyses" / kind / f"{key}.json"

    def has_analysis(self, kind: str, params: dict, version: int) -> bool:
        return self.analysis_path(kind, params, version).is_file()

    def analysis(self, kind: str, params: dict, compute, version: int, device=None) -> dict:
        """The value of analysis ``kind`` with ``params``: from the store, else ``compute()``.

        ``params`` must hold every argument that changes the value (the runs by name, start
        point, iterations, subset, BN policy, ...); ``version`` is the code version of ``kind``
        (bump it where the analysis is defined when its numbers change). ``compute`` returns a
        JSON-able dict; it runs at most once per key, also with concurrent workers.
        """
        path = self.analysis_path(kind, params, version)
        record = self._read_analysis(path)
        if record is None:
            with self.lock(f"analysis-{kind}-{path.stem}"):
                record = self._read_analysis(path)
                if record is None:
                    from .machine import provenance
                    t0 = time.perf_counter()
                    value = compute()
                    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
                    record = seal_record({"kind": kind, "version": version, "params": params,
                                          "value": value, "provenance": {
                                              **provenance(dev), "seconds": time.perf_counter() - t0}})
                    save_json(record, path)
        return record["value"]

    def _read_analysis(self, path: Path) -> dict | None:
        """The stored record at ``path``; None when absent, or damaged (then set aside, with a
        warning naming the file, so that the caller computes it again)."""
        if not path.is_file():
            return None
        try:
            record = load_json(path)
        except PermissionError:
            raise _access_error(path) from None
        except (OSError, ValueError) as exc:
            record, why = None, f"unreadable ({type(exc).__name__}: {exc})"
        else:
            why = analysis_problem(record, path)
        if why is None:
            return record
        dest = self.set_aside(path, f"{path}: {why}")
        warnings.warn(f"{path}: {why}; set aside in {dest}, computing it again")
        return None

    def analyses(self, kind: str | None = None) -> pd.DataFrame:
        """One row per stored, intact analysis (of ``kind``): kind, key, version, params and
        provenance. Damaged records are left out (set aside when next requested) and listed in
        ``df.attrs["damaged"]``."""
        rows, damaged = [], []
        for p, rec in self._analysis_files(kind):
            if problem := (analysis_problem(rec, p) if rec is not None else "unreadable JSON"):
                damaged.append(f"{p}: {problem}")
                continue
            rows.append({"kind": rec["kind"], "key": p.stem, "version": rec["version"],
                         **{f"param_{k}": v for k, v in rec["params"].items()},
                         **rec.get("provenance", {})})
        df = pd.DataFrame(rows)
        df.attrs["damaged"] = damaged
        return df
