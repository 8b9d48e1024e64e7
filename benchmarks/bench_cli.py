"""Start-up of the command line: `lbsm train` of a run already in the store vs `import torch`.

    python benchmarks/bench_cli.py [--repeats 7]

A stored run comes back without training, so what `lbsm train` costs beyond `import torch` is the
command line's own start-up: the modules it imports and the store look-up. The script first trains
a tiny run (F1, 200 training / 100 test examples, 1 epoch, on the CPU) into an empty temporary
store ($LBSM_RESULTS), then times, in turn (A B C A B C ...: a drift of the machine's speed moves
all alike), whole processes of

    python -c "import torch"
    python -m lbsm train <the stored run's arguments>
    python -m lbsm --help

and prints their medians and the difference `lbsm train` - `import torch`. Then one
`python -X importtime -m lbsm train ...` lists what the command imports that takes longest.
$LBSM_DATA is the data directory (default ~/.cache/lbsm); MNIST must be there (`make data`).
Writes ``benchmarks/results/bench_cli.json`` (README's table is generated from it).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchresults import Contention, write

TRAIN = ["train", "--net", "F1", "--batch-size", "20", "--epochs", "1", "--train-subset", "200",
         "--test-subset", "100", "--quiet", "--device", "cpu"]
#: modules the train command does not need (tests/test_cli.py keeps them out of its imports)
NOT_NEEDED = ("lbsm.pipeline.compute", "lbsm.analyses.sharpness", "lbsm.train.ensemble",
              "scipy.optimize", "dask")


def run(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return seconds, r


def importtime(stderr: str) -> list[tuple[str, float, str | None]]:
    """(module, cumulative seconds, the module that imported it first) of each row of
    `-X importtime` whose importer is an lbsm module or the command itself: what lbsm pulls in.
    The rows come children first, so a row's importer is the next row one level less indented."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, cum, name = line.removeprefix("import time:").split("|", 2)
            rows.append((name.strip(), int(cum) / 1e6, (len(name) - len(name.lstrip()) - 1) // 2))
    out = []
    for i, (name, cum, depth) in enumerate(rows):
        parent = next((n for n, _, d in rows[i + 1:] if d == depth - 1), None) if depth else None
        if parent is None or parent == "lbsm" or parent.startswith("lbsm."):
            out.append((name, cum, parent))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed runs of each command (default 7)")
    ap.add_argument("--top", type=int, default=12, help="importtime rows to show (default 12)")
    args = ap.parse_args()
    contention = Contention()
    with tempfile.TemporaryDirectory(prefix="lbsm-bench-cli-") as tmp:
        env = {**os.environ, "LBSM_RESULTS": tmp,
               "LBSM_DATA": os.environ.get("LBSM_DATA") or str(Path.home() / ".cache" / "lbsm")}
        env.pop("LBSM_WEIGHTS", None)
        seconds, first = run(["-m", "lbsm", *TRAIN], env)
        if "from the store" in first.stdout:
            raise SystemExit("the temporary store already had the run")
        print(f"trained the tiny run in {seconds:.1f} s: {first.stdout.splitlines()[0]}")
        _, again = run(["-m", "lbsm", *TRAIN], env)
        assert "from the store" in again.stdout, again.stdout
        commands = {"import torch": ["-c", "import torch"],
                    "lbsm train (stored run)": ["-m", "lbsm", *TRAIN],
                    "lbsm --help": ["-m", "lbsm", "--help"]}
        times: dict[str, list[float]] = {k: [] for k in commands}
        for name, cmd in commands.items():  # warm-up: the file cache, .pyc files
            run(cmd, env)
        for _ in range(args.repeats):
            for name, cmd in commands.items():
                times[name].append(run(cmd, env)[0])
        _, imp = run(["-X", "importtime", "-m", "lbsm", *TRAIN], env)

    load = ", load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    print(f"\n{args.repeats} runs each, whole process, {os.cpu_count()} cores{load}, {sys.executable}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, v in times.items():
        print(f"  {name:26s} median {med[name]:.3f} s  (min {min(v):.3f}, max {max(v):.3f})")
    train, torch = times["lbsm train (stored run)"], times["import torch"]
    paired = statistics.median(t - b for t, b in zip(train, torch))
    print(f"  lbsm train - import torch  {med['lbsm train (stored run)'] - med['import torch']:+.3f} s"
          f"  (median of the run-by-run differences: {paired:+.3f} s)")

    rows = importtime(imp.stderr)
    print(f"\n`python -X importtime -m lbsm train ...`: the {args.top} slowest imports of lbsm's "
          "modules, by cumulative time (what a module imports first is in its time)")
    for name, cum, parent in sorted(rows, key=lambda r: -r[1])[:args.top]:
        print(f"  {cum:7.3f} s  {name}" + (f"  (from {parent})" if parent else ""))
    names = {line.removeprefix("import time:").split("|", 2)[2].strip()
             for line in imp.stderr.splitlines() if line.startswith("import time:")}
    present = [m for m in NOT_NEEDED if m in names]
    print("not needed by train, yet imported: " + (", ".join(present) if present else "none"))
    import torch as _torch  # only for the thread count in the provenance, after the timings
    rows = [{"what": f"`lbsm train` of a stored run beyond `import torch` ({args.repeats} runs, "
                     "median of run-by-run differences)", "value": paired, "unit": "s"},
            {"what": "`lbsm --help` (no torch)", "value": med["lbsm --help"], "unit": "s"},
            {"what": "`import torch`", "value": med["import torch"], "unit": "s"}]
    write("bench_cli", rows, {"repeats": args.repeats, "medians": med, "times": times,
                              "imported_but_not_needed": present},
          contention.result(), _torch.get_num_threads())


if __name__ == "__main__":
    main()
