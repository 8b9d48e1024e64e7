"""What every benchmark writes: its measured numbers with the machine they were measured on, as one
JSON file under ``benchmarks/results/`` (committed data: README's speed table is generated from
these files by ``benchmarks/table.py``).

A file holds ``benchmark``, ``command``, ``measured`` (UTC time), ``machine`` (lbsm.core.machine's
provenance: CPU model and flags, torch threads, torch version, commit; plus cores and Python),
``contention`` (what other processes used of the machine while it ran), the benchmark's own
``data``, and ``rows``: the headline numbers, each ``{"what", "value", "unit"}``, that the table
shows.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, steal) jiffies of all CPUs since boot (/proc/stat), or None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]) - idle - steal, steal


def _own_cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Contention:
    """How many cores other processes kept busy (and the hypervisor stole) while the benchmark ran:
    all CPUs' busy time from /proc/stat minus this process's (and its children's) CPU time."""

    def __init__(self):
        self.t0, self.own0, self.jiffies0 = time.perf_counter(), _own_cpu_seconds(), _busy_jiffies()

    def result(self) -> dict:
        wall = time.perf_counter() - self.t0
        out = {"cores": os.cpu_count(), "wall_seconds": round(wall, 1)}
        now = _busy_jiffies()
        if now is None or self.jiffies0 is None or wall <= 0:
            return out
        hz = os.sysconf("SC_CLK_TCK")
        busy = (now[0] - self.jiffies0[0]) / hz
        own = _own_cpu_seconds() - self.own0
        out.update(own_cores=round(own / wall, 2),
                   other_cores=round(max(0.0, busy - own) / wall, 2),
                   steal_cores=round((now[1] - self.jiffies0[1]) / hz / wall, 2))
        if hasattr(os, "getloadavg"):
            out["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
        return out


def contention_words(c: dict) -> str:
    """``"other processes 1.0 of 2 cores"`` (what the table prints)."""
    if "other_cores" not in c:
        return f"{c.get('cores', '?')} cores, load not measured"
    return f"other processes {c['other_cores']:.1f} of {c['cores']} cores"


def write(name: str, rows: list[dict], data: dict, contention: dict, threads: int,
          results: Path = RESULTS) -> Path:
    """Write ``results/<name>.json`` and return its path. ``threads``: torch's intra-op threads the
    numbers were measured with."""
    from lbsm.core import machine
    for r in rows:
        if set(r) - {"what", "value", "unit"} or not isinstance(r.get("value"), (int, float)):
            raise ValueError(f"a row is {{'what', 'value', 'unit'}} with a number: {r}")
    payload = {"benchmark": name, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
               "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": {**machine.provenance("cpu"), "threads": threads, "cores": os.cpu_count(),
                           "python": platform.python_version()},
               "contention": contention, "rows": rows, "data": data}
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return path
