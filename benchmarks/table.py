"""README's speed table, generated from the files the benchmarks wrote (``benchmarks/results/``).

    python benchmarks/table.py                  # print the table
    python benchmarks/table.py --update README.md   # rewrite it between the markers

The table sits between ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->``;
tests/test_bench_table.py fails when README's table is not what this script makes of the files.
No number in it is typed by hand: each row is a ``rows`` entry of a result file, with the machine
it was measured on (CPU, torch threads, what other processes used of the cores meanwhile), the
torch version, the commit and the date.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def number(value: float, unit: str) -> str:
    """3 significant digits at most, no exponent: 0.542 x, 45.2 %, 113 s, 1,234 GFLOP/s."""
    if unit == "x":
        text = f"{value:.2f}"
    elif unit == "MFLOP":
        text = f"{value:.1f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}{'' if unit == '%' else ' '}{unit}" if unit else text


def machine_words(r: dict) -> str:
    m, c = r["machine"], r.get("contention", {})
    flags = "/".join(m.get("cpu_flags") or []) or "no AVX2"
    load = (f"; others used {c['other_cores']:.1f} of {c['cores']} cores" if "other_cores" in c
            else "")
    n = m.get("threads", "?")
    return f"{m.get('cpu', '?')} ({flags}), {n} thread{'' if n == 1 else 's'}{load}"


def table(results: Path = RESULTS) -> str:
    """The Markdown table of every result file under ``results`` (by file name, rows in order)."""
    lines = ["| benchmark | measured | value | machine | torch, commit, date |", "|---|---|---|---|---|"]
    for f in sorted(results.glob("*.json")):
        r = json.loads(f.read_text())
        where = machine_words(r)
        when = f"{r['machine'].get('torch', '?')}, {r['machine'].get('commit', '?')}, {r['measured'][:10]}"
        for row in r["rows"]:
            lines.append(f"| [`{f.stem}`](benchmarks/results/{f.name}) | {row['what']} | "
                         f"{number(row['value'], row['unit'])} | {where} | {when} |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with what stands between the markers replaced by ``block``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"expected one {START} ... {END} block")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}{END}{tail}"


def block_of(text: str) -> str:
    """What stands between the markers (without them and the newline after the start)."""
    return text.split(START, 1)[1].split(END, 1)[0].removeprefix("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", metavar="README", help="rewrite the table in this file")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args()
    t = table(a.results)
    if a.update:
        path = Path(a.update)
        path.write_text(replace_block(path.read_text(), t))
        print(f"updated the table in {path}")
    else:
        print(t, end="")


if __name__ == "__main__":
    main()
