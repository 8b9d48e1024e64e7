"""Results store: the published results dataset (tracked in git) and the local weights cache.

One rule for everything that is expensive: a result is a file addressed by the hash of every input
that changes it (and a code version); it is computed once, under a lock, written atomically, and
served from the file ever after. Layout (``results/README.md`` documents it for pandas users)::

    ROOT/runs/<net>-<key>/config.json     the TrainConfig the key hashes (with the code version)
                          meta.json       status, epochs, wall time, precision used, provenance
                          history.csv     per-epoch metrics
                          retrained.json  (only after a retrain) deviation from the published history
    ROOT/analyses/<kind>/<key>.json       params, value and provenance of one analysis
    WEIGHTS/<net>-<key>/{x0,final,resume}.pt, epochs/NNNN.pt   weights: an ignored local cache

ROOT is the ``root`` argument, else ``$LBSM_RESULTS``, else the repository's ``results/`` (the
published dataset) when the package runs from a checkout, else ``./results``. WEIGHTS is
``$LBSM_WEIGHTS``, else ``ROOT/weights`` (ignored by git). A run's metadata is written last: its
presence marks the run finished.

The store verifies what it serves. ``meta.json`` holds the sha256 of ``config.json`` and
``history.csv``, an analysis file the sha256 of its own content; a file that does not parse, does
not match its checksum, or disagrees with its siblings (a history with fewer epochs than the
metadata says) is moved to ``ROOT/damaged/`` (never deleted) with a message naming it, and the next
request computes it again. Damaged weights (a truncated ``final.pt``) are set aside the same way
and the run is retrained. Locks (``ROOT/.locks``, ``fcntl.flock``, released by the kernel
when a process dies) make concurrent workers compute each run or analysis once; a killed worker
leaves no lock behind and no half-written file (temporary file, then rename).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parent.parent


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """The results root: ``root``, ``$LBSM_RESULTS``, the checkout's ``results/``, or ``./results``."""
    if root or os.environ.get("LBSM_RESULTS"):
        return Path(root or os.environ["LBSM_RESULTS"]).expanduser()
    if (REPO / "pyproject.toml").is_file() and (REPO / "lbsm").is_dir():
        return REPO / "results"
    return Path("results")


def config_key(config: dict) -> str:
    """Stable hash of a config dict (sorted-key JSON)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def _content_sha(record: dict) -> str:
    """Checksum of an analysis record's content (everything but the checksum itself)."""
    body = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class DamagedError(RuntimeError):
    """A stored file is unreadable or inconsistent; it has been set aside (see the message)."""


RUN_FILES = ("config.json", "history.csv")  # checksummed in meta.json


class Store:
    """The results store: runs and analyses under ``root``, weights under ``weights``."""

    def __init__(self, root: str | os.PathLike | None = None, weights: str | os.PathLike | None = None):
        self.root = results_dir(root)
        w = weights or os.environ.get("LBSM_WEIGHTS")
        self.weights_root = Path(w).expanduser() if w else self.root / "weights"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, weights={str(self.weights_root)!r})"

    # ----------------------------------------------------------------------------- runs
    def run_dir(self, net: str, key: str) -> Path:
        return self.root / "runs" / f"{net}-{key}"

    def weights_dir(self, run_name: str) -> Path:
        return self.weights_root / run_name

    def is_finished(self, path: Path) -> bool:
        return (path / "meta.json").is_file()

    def runs(self) -> pd.DataFrame:
        """One row per finished, intact run: its config and metadata. Damaged runs are left out
        (not moved) and listed in ``df.attrs["damaged"]`` as "file: problem" lines."""
        rows, damaged = [], []
        for meta_path in sorted(self.root.glob("runs/*/meta.json")):
            d = meta_path.parent
            problem = self.run_problem(d)
            if problem:
                damaged.append(problem)
                continue
            rows.append({"run": d.name, **load_json(d / "config.json"), **load_json(meta_path)})
        df = pd.DataFrame(rows)
        df.attrs["damaged"] = damaged
        return df

    # ----------------------------------------------------------------------------- verification
    def run_problem(self, path: Path) -> str | None:
        """None for an intact finished run, else "<file>: <what is wrong>"."""
        try:
            meta = load_json(path / "meta.json")
        except (OSError, ValueError) as exc:
            return f"{path / 'meta.json'}: unreadable ({exc})"
        for name, want in meta.get("sha256", {}).items():
            f = path / name
            if not f.is_file():
                return f"{f}: missing"
            if sha256(f) != want:
                return f"{f}: checksum mismatch (the file changed after it was written)"
        try:
            load_json(path / "config.json")
            history = pd.read_csv(path / "history.csv")
        except (OSError, ValueError) as exc:
            return f"{path}: unreadable config.json or history.csv ({exc})"
        if "epoch" not in history.columns:
            return f"{path / 'history.csv'}: no epoch column (not a history written by lbsm)"
        epochs = meta.get("epochs_run")
        if epochs is not None and (history.empty or int(history.epoch.iloc[-1]) != int(epochs)):
            last = "no rows" if history.empty else f"ends at epoch {int(history.epoch.iloc[-1])}"
            return f"{path / 'history.csv'}: {last}, meta.json says {epochs} epochs"
        return None

    def orphans(self) -> list[Path]:
        """Stored analyses that name a run (``run``, ``sb`` or ``lb`` parameter) the store does not
        hold, e.g. after a profile stopped training it."""
        names = {p.name for p in self.root.glob("runs/*") if (p / "meta.json").is_file()}
        out = []
        for path in sorted(self.root.glob("analyses/*/*.json")):
            params = load_json(path)["params"]
            if any(params.get(k) is not None and params[k] not in names for k in ("run", "sb", "lb")):
                out.append(path)
        return out

    def seal(self) -> dict:
        """Add the checksums to intact runs and analyses written without them (by code older than
        the checksums); returns how many of each were sealed. Damaged ones are left as they are."""
        runs = analyses = 0
        for meta_path in sorted(self.root.glob("runs/*/meta.json")):
            meta = load_json(meta_path)
            if "sha256" not in meta and self.run_problem(meta_path.parent) is None:
                meta["sha256"] = {f: sha256(meta_path.parent / f) for f in RUN_FILES}
                save_json(meta, meta_path)
                runs += 1
        for path in sorted(self.root.glob("analyses/*/*.json")):
            rec = load_json(path)
            if "sha256" not in rec:
                save_json({**rec, "sha256": _content_sha(rec)}, path)
                analyses += 1
        return {"runs": runs, "analyses": analyses}

    def set_aside(self, path: Path) -> Path:
        """Move a damaged file or run folder under ``ROOT/damaged/`` (never deleted)."""
        path = Path(path)
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            rel = Path(path.name)
        dest = self.root / "damaged" / f"{rel}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        return dest

    def check_run(self, path: Path) -> None:
        """Raise DamagedError (after setting the run aside) unless the run at ``path`` is intact."""
        problem = self.run_problem(path)
        if problem:
            dest = self.set_aside(path)
            raise DamagedError(f"{problem}. The run was set aside in {dest}; run the same command "
                               "again to train it anew.")

    def find(self, name: str) -> Path:
        """A run directory from its name, key, or a unique key prefix."""
        hits = [p for p in (self.root / "runs").glob("*") if name in (p.name, p.name.split("-", 1)[-1])
                or p.name.split("-", 1)[-1].startswith(name)]
        if len(hits) != 1:
            raise KeyError(f"{'no' if not hits else len(hits)} runs match {name!r} in {self.root}/runs"
                           " (list them with `python -m lbsm runs`)")
        return hits[0]

    # ----------------------------------------------------------------------------- locks
    @contextlib.contextmanager
    def lock(self, name: str):
        """Exclusive lock ``name`` across processes and workers sharing this store."""
        path = self.root / ".locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
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
                    record = {"kind": kind, "version": version, "params": params, "value": value,
                              "provenance": {**provenance(dev), "seconds": time.perf_counter() - t0}}
                    save_json({**record, "sha256": _content_sha(json.loads(json.dumps(record, default=str)))},
                              path)
        return record["value"]

    def _read_analysis(self, path: Path) -> dict | None:
        """The stored record at ``path``; None when absent, or damaged (then set aside, with a
        warning naming the file, so that the caller computes it again)."""
        if not path.is_file():
            return None
        try:
            record = load_json(path)
            value = record["value"]
            ok = "sha256" not in record or record["sha256"] == _content_sha(record)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            value, ok, why = None, False, f"unreadable ({type(exc).__name__}: {exc})"
        else:
            why = "checksum mismatch (the file changed after it was written)"
        if ok and value is not None:
            return record
        import warnings
        dest = self.set_aside(path)
        warnings.warn(f"{path}: {why}; set aside in {dest}, computing it again")
        return None

    def analyses(self, kind: str | None = None) -> pd.DataFrame:
        """One row per stored analysis (of ``kind``): kind, key, version, params and provenance."""
        rows = []
        for p in sorted(self.root.glob(f"analyses/{kind or '*'}/*.json")):
            try:
                rec = load_json(p)
            except (OSError, ValueError):
                continue  # reported and set aside when it is next requested
            rows.append({"kind": rec["kind"], "key": p.stem, "version": rec["version"],
                         **{f"param_{k}": v for k, v in rec["params"].items()},
                         **rec.get("provenance", {})})
        return pd.DataFrame(rows)
