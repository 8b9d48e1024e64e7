"""What makes a stored record intact: its key, the checksum sealing its content, and its shape.

A result is filed under the hash of every input that changes it (:func:`config_key`). A run's
``meta.json`` holds the sha256 of ``config.json`` and ``history.csv`` (``RUN_FILES``) and, in
``meta_sha256``, the sha256 of its own content without that field (:func:`seal_meta`); an analysis
record holds the sha256 of its own content in ``sha256`` (:func:`seal_record`). A missing or
malformed checksum is damage, never a pass: :func:`meta_problem` and :func:`analysis_problem` say
what is wrong with a loaded record (None: intact). They read nothing from disk; the store does.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .constants import RUN_STATUSES

RUN_FILES = ("config.json", "history.csv")  # checksummed in meta.json
HEX64 = re.compile(r"[0-9a-f]{64}")
KEY = re.compile(r"[0-9a-f]{16}")


def config_key(config: dict) -> str:
    """Stable hash of a config dict (sorted-key JSON)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def content_sha(record: dict, field: str = "sha256") -> str:
    """Checksum of a record's content (everything but the checksum ``field`` itself)."""
    body = {k: v for k, v in record.items() if k != field}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def seal_meta(meta: dict) -> dict:
    """``meta`` with ``meta_sha256``: the checksum that covers meta.json's own content."""
    meta = json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"}, default=str))
    return {**meta, "meta_sha256": content_sha(meta, "meta_sha256")}


def seal_record(record: dict) -> dict:
    """An analysis record with ``sha256``: the checksum of its content."""
    record = json.loads(json.dumps({k: v for k, v in record.items() if k != "sha256"}, default=str))
    return {**record, "sha256": content_sha(record)}


def meta_problem(meta) -> str | None:
    """What is wrong with the shape of a loaded meta.json (None: the fields the store needs are
    there and of the right type; the checksums are checked by the caller)."""
    if not isinstance(meta, dict):
        return f"not a JSON object (a {type(meta).__name__})"
    if meta.get("status") not in RUN_STATUSES:
        return f"status {meta.get('status')!r} is not one of {', '.join(RUN_STATUSES)}"
    n = meta.get("epochs_run")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return f"epochs_run {n!r} is not a whole number >= 0"
    sums = meta.get("sha256")
    if not isinstance(sums, dict) or set(sums) != set(RUN_FILES) or \
            not all(isinstance(v, str) and HEX64.fullmatch(v) for v in sums.values()):
        return (f"sha256 {sums!r} is missing or malformed (it must hold the sha256 of "
                f"{' and '.join(RUN_FILES)}): the files cannot be verified")
    w = meta.get("weights_sha256")
    if w is not None and not (isinstance(w, str) and HEX64.fullmatch(w)):
        return f"weights_sha256 {w!r} is not a sha256 (64 hex digits)"
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
    if not HEX64.fullmatch(record["sha256"]) or record["sha256"] != content_sha(record):
        return "checksum mismatch (the file changed after it was written)"
    if path is not None:
        key = config_key({"kind": record["kind"], "version": record["version"],
                          "params": record["params"]})
        if path.parent.name != record["kind"] or path.stem != key:
            return (f"filed as {path.parent.name}/{path.name} but its kind, version and params "
                    f"belong in {record['kind']}/{key}.json")
    return None


def refers_to(params, name: str) -> bool:
    """Whether any parameter value (in lists and dicts too) is the run name ``name``."""
    if isinstance(params, dict):
        return any(refers_to(v, name) for v in params.values())
    if isinstance(params, (list, tuple)):
        return any(refers_to(v, name) for v in params)
    return params == name
