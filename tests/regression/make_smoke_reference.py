"""Remake ``smoke_reference.json``: the numbers of the smoke slice of tests/test_regression.py
(``SMOKE_SLICE``) computed, in a fresh temporary store, by the code importable as ``lbsm``.

The reference in this folder was computed by the code before the layering redesign::

    git -C /work/main worktree add /tmp/old f55498e
    cd /tmp/old && PYTHONPATH=/tmp/old python /work/main/tests/regression/make_smoke_reference.py
    git -C /work/main worktree remove /tmp/old --force

Options: ``--out FILE`` (default: smoke_reference.json beside this script), ``--store DIR``
(dump an existing store instead of computing one; its machine is then this one's, as told),
``--threads N`` (torch threads; default ``SMOKE_THREADS``, what the test computes with). Remake
it only when a change is meant to move numbers, and say so.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _test_module():
    spec = importlib.util.spec_from_file_location("test_regression", HERE.parent / "test_regression.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "smoke_reference.json")
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    import lbsm
    t = _test_module()
    threads = args.threads or t.SMOKE_THREADS
    src = Path(lbsm.__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "lbsm"],
                           capture_output=True, text=True).stdout.strip()
    if args.store is None:
        args.store = Path(tempfile.mkdtemp(prefix="smoke-reference-")) / "results"
        seconds, machine = t.compute_smoke_slice(args.store, threads)
    else:
        seconds = None
        with t.torch_threads(threads):
            machine = t.machine_signature()
    # machine: cpu, cpu_flags, device ("cpu (N threads)"), torch, cpu_model
    numbers = t.store_numbers(args.store)
    ref = {
        "note": (f"computed by lbsm at commit {commit}{' (lbsm modified)' if dirty else ''} on "
                 f"{machine['cpu']} {machine['cpu_flags']}, {machine['device']}, torch "
                 f"{machine['torch']}, with tests/regression/make_smoke_reference.py"),
        "commit": commit, "lbsm_modified": bool(dirty), **machine, "seconds": seconds,
        "slice": t.SMOKE_SLICE, **numbers}
    args.out.write_text(json.dumps(ref, indent=1, sort_keys=False) + "\n")
    print(f"{args.out}: {len(numbers['runs'])} runs, {len(numbers['analyses'])} analyses "
          f"({ref['note']}; {seconds and round(seconds, 1)} s)")


if __name__ == "__main__":
    main()
