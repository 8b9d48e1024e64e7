"""The published dataset as a whole: ``MANIFEST.sha256`` read, checked against the store, written.

``MANIFEST.sha256`` (``sha256sum`` format) pins every run and analysis file of a store:
``python -m lbsm runs --verify`` checks it (:func:`verify`), ``--write-manifest`` writes it
(:func:`write_manifest`) once everything verifies, after sealing runs written by code older than
``meta_sha256`` (:func:`seal`). Each function takes a :class:`lbsm.core.store.Store`, whose
methods of the same names call them.
"""
from __future__ import annotations

import re

from .files import CRLF_FIX, crlf_checkout, crlf_only, load_json, save_json, sha256, write_atomic
from .records import HEX64, analysis_problem, seal_meta

MANIFEST = "MANIFEST.sha256"
PUBLISHED_RUN_FILES = ("config.json", "meta.json", "history.csv", "retrained.json")
# names a store may hold: runs/<NET>-<key>/<file>, analyses/<kind>/<key>.json (archives, manifests)
PUBLISHED_PATH = re.compile(r"runs/[A-Za-z0-9]+-[0-9a-f]{16}/(config\.json|meta\.json|history\.csv|"
                            r"retrained\.json)|analyses/[a-z0-9_]+/[0-9a-f]{16}\.json")


def published_files(store) -> list[str]:
    """The dataset's files (runs and analyses), relative to the root, sorted."""
    files = [p for d in store.run_dirs() for p in (d / f for f in PUBLISHED_RUN_FILES) if p.is_file()]
    files += [p for p, _ in store.analysis_files()]
    return sorted(str(p.relative_to(store.root)) for p in files)


def read_manifest(store) -> dict[str, str]:
    """{relative path: sha256} of ``MANIFEST.sha256``; ValueError naming the line when a line
    is malformed or names a path outside the store's runs/ and analyses/."""
    path = store.root / MANIFEST
    out = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not (sep and HEX64.fullmatch(digest) and PUBLISHED_PATH.fullmatch(rel)) or \
                not (store.root / rel).resolve().is_relative_to(store.root.resolve()):
            raise ValueError(f"{path} line {i}: {line[:120]!r} is not 'SHA256  runs/... or "
                             "analyses/...' (write it anew with `python -m lbsm runs "
                             "--write-manifest` once the store verifies)")
        out[rel] = digest
    return out


def verify(store, require_manifest: bool) -> dict:
    """Check the whole store: every run and analysis (schema, key, checksums) and the manifest
    (every listed file present with its sha256). Returns {"problems": [...], "unlisted": [...],
    "checked": n}: problems are "file: what is wrong" lines; unlisted are files added since the
    manifest was written (each verified by its own checksums). ``require_manifest`` makes a
    missing manifest a problem."""
    problems, unlisted, crlf = [], [], set()  # crlf: the files that differ only by line endings
    for d in store.run_dirs():
        if p := store.run_problem(d):
            converted = crlf_checkout(d)
            crlf.update(converted)
            problems.append(p + (" (only its line endings differ: CRLF)" if converted else ""))
    for path, rec in store.analysis_files():
        if p := (analysis_problem(rec, path) or store.stale_weights(rec) if rec is not None
                 else "unreadable JSON"):
            problems.append(f"{path}: {p}")
    files = store.published_files()
    if (store.root / MANIFEST).is_file():
        try:
            listed = store.read_manifest()
        except ValueError as exc:
            problems.append(str(exc))
            listed = {}
        for rel, digest in listed.items():
            f = store.root / rel
            if not f.is_file():
                problems.append(f"{f}: listed in {MANIFEST} but missing")
            elif sha256(f) != digest:
                converted = crlf_only(f, digest)
                crlf.update([f] if converted else [])
                problems.append(f"{f}: its sha256 differs from {MANIFEST} (" + (
                    "only its line endings differ: CRLF)" if converted else
                    "changed since the manifest was written)"))
        unlisted = [rel for rel in files if rel not in listed]
    elif require_manifest:
        problems.append(f"{store.root / MANIFEST}: missing (write it with `python -m lbsm runs "
                        f"--write-manifest --results {store.root}` once the store verifies)")
    if crlf:  # first, so that a listing cut short still shows it
        problems.insert(0, f"{store.root}: {len(crlf)} file(s) differ only by CRLF line endings: "
                           f"{CRLF_FIX}")
    return {"problems": problems, "unlisted": unlisted, "checked": len(files)}


def seal(store) -> dict:
    """Add ``meta_sha256`` to runs whose files verify but whose meta.json was written without
    it (by code older than that checksum); returns how many runs were sealed. A run or analysis
    without its file checksums is damage and is not sealed (that is how a forgery looks)."""
    runs = 0
    for d in store.run_dirs():
        meta = load_json(d / "meta.json")
        if isinstance(meta, dict) and "meta_sha256" not in meta and \
                store.run_problem(d, require_meta_sha=False) is None:
            save_json(seal_meta(meta), d / "meta.json")
            runs += 1
    return {"runs": runs, "analyses": 0}


def write_manifest(store) -> dict:
    """Seal runs written without ``meta_sha256``, verify everything, then write
    ``MANIFEST.sha256`` over every run and analysis file. Refuses (ValueError naming the files)
    while anything fails to verify: a manifest vouches only for what checks out."""
    sealed = store.seal()["runs"]
    found = store.verify(require_manifest=False)
    # a manifest being replaced is no reason to refuse: only the files themselves count
    bad = [p for p in found["problems"] if MANIFEST not in p]
    if bad:
        raise ValueError(f"{len(bad)} file(s) of {store.root} fail verification, no manifest "
                         "written:\n  " + "\n  ".join(bad))
    files = store.published_files()
    write_atomic(store.root / MANIFEST,
                 "".join(f"{sha256(store.root / rel)}  {rel}\n" for rel in files).encode())
    return {"files": len(files), "sealed": sealed, "manifest": str(store.root / MANIFEST)}
