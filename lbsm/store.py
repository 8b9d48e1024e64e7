"""Results store: every training run kept as files under a key that hashes its whole config.

Layout of one run, ``ROOT/runs/<net>-<key>/``::

    config.json    the TrainConfig (what the key hashes, with the training-code version)
    meta.json      status (done | diverged), device, commit, torch version, wall time
    history.csv    per-epoch metrics
    x0.pt          the initial weights (shared by the SB and LB runs of one trial)
    final.pt       the final weights (state_dict, BatchNorm buffers included)
    epochs/NNNN.pt the weights after each epoch (only when the config asks for checkpoints)
    resume.pt      model + optimizer + RNG state of the last finished epoch (while running)

Every file is written atomically (temporary file, then rename), so an interrupted run leaves
either the old file or the new one, never half of one. The root is the ``root`` argument, else
``$LBSM_RESULTS``, else ``./results``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import torch


def results_dir(root: str | os.PathLike | None = None) -> Path:
    return Path(root or os.environ.get("LBSM_RESULTS") or "results").expanduser()


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


def save_json(obj, path: Path) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def load_json(path: Path):
    return json.loads(Path(path).read_text())


class Store:
    """Files of finished and interrupted runs, addressed by config key."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = results_dir(root)

    def run_dir(self, net: str, key: str) -> Path:
        return self.root / "runs" / f"{net}-{key}"

    def is_finished(self, path: Path) -> bool:
        return (path / "meta.json").is_file()

    def runs(self) -> pd.DataFrame:
        """One row per finished run: its config, status and final metrics."""
        rows = []
        for meta_path in sorted(self.root.glob("runs/*/meta.json")):
            d = meta_path.parent
            row = {"run": d.name, **load_json(d / "config.json"), **load_json(meta_path)}
            rows.append(row)
        return pd.DataFrame(rows)

    def find(self, name: str) -> Path:
        """A run directory from its name, key, or a unique key prefix."""
        hits = [p for p in (self.root / "runs").glob("*") if name in (p.name, p.name.split("-", 1)[-1])
                or p.name.split("-", 1)[-1].startswith(name)]
        if len(hits) != 1:
            raise KeyError(f"{'no' if not hits else len(hits)} runs match {name!r} in {self.root}/runs"
                           " (list them with `python -m lbsm runs`)")
        return hits[0]
