"""One model, one set of weights: which weights a stored number measured.

A run's ``meta.json`` holds ``weights_sha256``, the hash of its final weights
(:func:`lbsm.core.files.state_sha256`); an analysis record's provenance holds ``weights``, {run name:
hash} of the runs it measured, as their records held them when it was computed. An analysis is
served only while every run it names still holds that hash: a run retrained elsewhere (other
rounding, other weights) is a new record, and what was computed from its old weights is stale.
Runs recorded before weights were hashed have no hash and are left out of the check.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from .files import load_json

# the params of an analysis that name the runs whose weights it measured
RUN_PARAMS = ("run", "sb", "lb")


def recorded(root: Path, params) -> dict[str, str]:
    """{run name: the ``weights_sha256`` its record holds} for every run ``params`` names."""
    out = {}
    for k in RUN_PARAMS:
        name = params.get(k) if isinstance(params, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            continue
        try:
            meta = load_json(Path(root) / "runs" / name / "meta.json")
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("weights_sha256"), str):
            out[name] = meta["weights_sha256"]
    return out


def stale(root: Path, record: dict) -> str | None:
    """Why an intact analysis record must not be served (None: it measured the weights its runs'
    records hold). A run whose record has a hash needs the same hash in the analysis."""
    have = (record.get("provenance") or {}).get("weights") or {}
    for name, want in recorded(root, record.get("params")).items():
        if have.get(name) != want:
            got = have.get(name)
            return (f"stale: it measured weights {got[:12] if got else '(unrecorded)'} of run "
                    f"{name}, whose record now holds weights {want[:12]} (the run was retrained "
                    "elsewhere); it is computed again from the run's weights when next requested")
    return None


def set_aside_children(store, name: str) -> list[Path]:
    """Set aside every finished run warm-started from run ``name`` (``init`` "name@epoch"), and
    its analyses: it was trained from weights that no longer exist, so it is trained again when
    next needed."""
    out = []
    for d in store.run_dirs():
        try:
            init = load_json(d / "config.json").get("init")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(init, str) and init.partition("@")[0] == name:
            dest = store.set_aside(d, f"{d}: warm-started from {name}, whose weights were replaced")
            store.set_aside_analyses_of(d.name, f"computed from run {d.name}, set aside in {dest}")
            warnings.warn(f"{d}: warm-started from run {name}, whose weights were replaced; set "
                          f"aside in {dest}, trained again when next needed")
            out.append(dest)
    return out


def import_problem(store_root: Path, archive_root: Path, record: dict) -> str | None:
    """Why an archived analysis must not be imported into the store at ``store_root`` (None: it
    may). After an import each run it names is the store's record where the store holds that run
    (an import keeps what is there) and the archive's otherwise; the analysis must have measured
    that record's weights. An archive computed elsewhere (other rounding, other weights) for runs
    the store already holds describes other minimizers than the store's records."""
    have = (record.get("provenance") or {}).get("weights") or {}
    params = record.get("params")
    theirs, ours = recorded(archive_root, params), recorded(store_root, params)
    for k in RUN_PARAMS:
        name = params.get(k) if isinstance(params, dict) else None
        if not isinstance(name, str):
            continue
        in_store = (Path(store_root) / "runs" / name / "meta.json").is_file()
        want = ours.get(name) if in_store else theirs.get(name)
        if want is not None and have.get(name) != want:
            where = "the store's record of" if in_store else "the archive's record of"
            return (f"it measured weights {(have.get(name) or '(unrecorded)')[:12]} of run {name}, "
                    f"but {where} that run holds weights {want[:12]} (computed on another machine "
                    "or thread count: another minimizer)")
    return None
