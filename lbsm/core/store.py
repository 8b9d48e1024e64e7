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

ROOT and WEIGHTS: the arguments, else the folders the entry point chose (``lbsm.cli``, ``lbsm.book``
read ``$LBSM_RESULTS``, ``$LBSM_WEIGHTS``), else ``results/`` and ``ROOT/weights``; ``Store()`` reads
no environment (:mod:`lbsm.core.paths`). A run's metadata is written last: it marks the run finished.

Verification is not optional: every file the store serves is covered by a checksum the reader
requires, and the key of a run (from its ``config.json``) or of an analysis (from its kind,
version and params) is recomputed on every read: a file filed under another key is damage
(:mod:`lbsm.core.records`). A damaged file is moved to ``ROOT/damaged/`` (never deleted) with a
message naming it, and the next request computes it again; the analyses of a run set aside (or
retrained with other weights) are set aside with it, so that nothing computed from the old
weights is served next to the new. Damaged weights (a truncated ``final.pt``) are set aside the
same way and the run is retrained. ``MANIFEST.sha256`` pins the published dataset as a whole
(:mod:`lbsm.core.manifest`). Locks (``ROOT/.locks``, ``fcntl.flock``, released by the kernel when
a process dies) make concurrent workers compute each run or analysis once; a killed worker leaves
no lock behind and no half-written file (:mod:`lbsm.core.files`).

A store may be shared (a cluster file system): files are readable as the umask allows, and a
reader that cannot read or move a file (no permission) raises :class:`StoreAccessError` naming it
and moves nothing.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from . import manifest, weights
from .machine import git_commit, provenance
from .files import _umask, crlf_checkout, crlf_message, load_json, save_json, sha256
from .paths import REPO, path_root, results_dir, weights_root
from .records import analysis_problem, config_key, content_sha, meta_problem, refers_to, seal_record


class DamagedError(RuntimeError):
    """A stored file is unreadable or inconsistent; it has been set aside (see the message)."""


class UncommittedCodeError(RuntimeError):
    """A result would be published from code that git has not committed (see the message)."""


class StoreAccessError(PermissionError):
    """The store cannot be read or changed by this user; nothing was moved (see the message)."""


def _access_error(path: Path, problem: str | None = None) -> StoreAccessError:
    what = f"{problem}; it" if problem else str(path)
    return StoreAccessError(
        f"{what} cannot be {'set aside' if problem else 'read'}: permission denied for this user "
        f"(a shared store). Nothing was moved or rewritten; ask the store's owner to fix it "
        f"(`python -m lbsm runs --verify --results {path_root(path)}` lists what is wrong) or to "
        "make the store readable (chmod -R a+rX), or use a store of your own (--results DIR)")


class Store:
    """The results store: runs and analyses under ``root``, weights under ``weights``."""

    def __init__(self, root: str | os.PathLike | None = None, weights: str | os.PathLike | None = None,
                 allow_dirty: bool = False):
        self.root = results_dir(root)
        self.weights_root = weights_root(self.root, weights)
        self.allow_dirty = allow_dirty  # see check_publishable

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, weights={str(self.weights_root)!r})"

    # ----------------------------------------------------------------------------- provenance
    @property
    def is_published(self) -> bool:
        """Whether this store is the checkout's published dataset (``results/``)."""
        return self.root.resolve() == (REPO / "results").resolve()

    def check_publishable(self) -> None:
        """Refuse, before computing, to add to the published dataset from uncommitted code: a
        result's commit is its provenance, and ``abc1234-dirty`` names no code anyone can check
        out. Other stores, and ``allow_dirty`` (``--allow-dirty``, for experiments), take it."""
        if self.allow_dirty or not self.is_published:
            return
        commit = git_commit()
        if commit.endswith("-dirty"):
            raise UncommittedCodeError(
                f"refusing to compute into the published results {self.root} from uncommitted "
                f"code (commit {commit}: lbsm/ has changes git has not committed). Commit them "
                "first (git commit), or compute into a store of your own (--results DIR, or "
                "LBSM_RESULTS), or pass --allow-dirty for an experiment the book will mark as such")

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
            if meta.get("meta_sha256") != content_sha(meta, "meta_sha256"):
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
        for path, rec in self.analysis_files():
            params = rec["params"] if isinstance(rec, dict) and isinstance(rec.get("params"), dict) else {}
            if any(params.get(k) is not None and params[k] not in names for k in ("run", "sb", "lb")):
                out.append(path)
        return out

    def analysis_files(self, kind: str | None = None):
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

    def set_aside(self, path: Path, problem: str | None = None) -> Path:
        """Move a damaged file or run folder under ``ROOT/damaged/`` (never deleted), named by its
        path, the time and a random suffix (two set aside in one second never collide). A user who
        may not move it (a shared, read-only store) gets StoreAccessError and nothing moves."""
        path, root = Path(path), self.root.resolve()
        rel = path.resolve().relative_to(root) if path.resolve().is_relative_to(root) else Path(path.name)
        dest = self.root / "damaged" / f"{rel}.{time.strftime('%Y%m%dT%H%M%S')}.{os.urandom(6).hex()}"
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
        if problem and (converted := crlf_checkout(path)):  # LF made CRLF by a checkout: not moved
            raise DamagedError(crlf_message(converted))
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
        for path, rec in self.analysis_files():
            if isinstance(rec, dict) and refers_to(rec.get("params"), run_name):
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
    # the published dataset as a whole: lbsm.core.manifest
    def published_files(self) -> list[str]:
        """The dataset's files (runs and analyses), relative to the root, sorted."""
        return manifest.published_files(self)

    def read_manifest(self) -> dict[str, str]:
        """{relative path: sha256} of ``MANIFEST.sha256`` (see :func:`manifest.read_manifest`)."""
        return manifest.read_manifest(self)

    def verify(self, require_manifest: bool | None = None) -> dict:
        """Check the whole store and its manifest (see :func:`manifest.verify`).
        ``require_manifest`` (default: for the checkout's published results/) makes a missing
        manifest a problem."""
        if require_manifest is None:
            require_manifest = self.root.resolve() == (REPO / "results").resolve()
        return manifest.verify(self, require_manifest)

    def seal(self) -> dict:
        """Seal the runs written without ``meta_sha256`` (see :func:`manifest.seal`)."""
        return manifest.seal(self)

    def write_manifest(self) -> dict:
        """Seal, verify, then write ``MANIFEST.sha256`` (see :func:`manifest.write_manifest`)."""
        return manifest.write_manifest(self)


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
                    self.check_publishable()
                    t0 = time.perf_counter()
                    value = compute()
                    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
                    # the weights measured: the hash each referenced run's record holds now
                    # (lbsm.train.protocol.Run.state serves only weights with that hash)
                    weights_measured = weights.recorded(self.root, params)
                    record = seal_record({"kind": kind, "version": version, "params": params,
                                          "value": value, "provenance": {
                                              **provenance(dev), "seconds": time.perf_counter() - t0,
                                              **({"weights": weights_measured} if weights_measured else {})}})
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
            why = self.stale_weights(record)
        if why is None:
            return record
        dest = self.set_aside(path, f"{path}: {why}")
        warnings.warn(f"{path}: {why}; set aside in {dest}, computing it again")
        return None

    # ----------------------------------------------------------------------------- one weight per number
    def stale_weights(self, record: dict) -> str | None:
        """Why an analysis measured other weights than its runs' records hold (lbsm.core.weights)."""
        return weights.stale(self.root, record)

    def analyses(self, kind: str | None = None) -> pd.DataFrame:
        """One row per stored, intact analysis (of ``kind``): kind, key, version, params and
        provenance. Damaged records are left out (set aside when next requested) and listed in
        ``df.attrs["damaged"]``."""
        rows, damaged = [], []
        for p, rec in self.analysis_files(kind):
            if problem := (analysis_problem(rec, p) or self.stale_weights(rec) if rec is not None
                           else "unreadable JSON"):
                damaged.append(f"{p}: {problem}")
                continue
            rows.append({"kind": rec["kind"], "key": p.stem, "version": rec["version"],
                         **{f"param_{k}": v for k, v in rec["params"].items()},
                         **rec.get("provenance", {})})
        df = pd.DataFrame(rows)
        df.attrs["damaged"] = damaged
        return df
