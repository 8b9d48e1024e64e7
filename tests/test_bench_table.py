"""README's speed table is what benchmarks/table.py makes of the files the benchmarks wrote
(benchmarks/results/*.json), and every such file carries its machine's provenance."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


table = load("table")


def test_readme_table_is_generated_from_the_result_files():
    readme = (ROOT / "README.md").read_text()
    assert table.block_of(readme) == table.table(), (
        "README's speed table differs from the benchmark results: run "
        "`python benchmarks/table.py --update README.md`")


@pytest.mark.parametrize("path", sorted((BENCH / "results").glob("*.json")), ids=lambda p: p.name)
def test_result_files_carry_provenance(path):
    r = json.loads(path.read_text())
    assert r["benchmark"] == path.stem and r["rows"], path
    for key in ("cpu", "torch", "commit", "threads", "cores"):
        assert r["machine"].get(key) not in (None, ""), f"{path.name}: machine.{key}"
    for row in r["rows"]:
        assert set(row) == {"what", "value", "unit"} and isinstance(row["value"], (int, float))


def test_replace_block_keeps_the_rest(tmp_path):
    text = f"intro\n{table.START}\nold\n{table.END}\nafter\n"
    new = table.replace_block(text, "| a |\n")
    assert new == f"intro\n{table.START}\n| a |\n{table.END}\nafter\n"
    assert table.block_of(new) == "| a |\n"
    with pytest.raises(ValueError):
        table.replace_block("no markers", "x")


def test_number_format():
    assert table.number(0.5423, "x") == "0.54 x"
    assert table.number(45.23, "%") == "45.2%"
    assert table.number(113.4, "s") == "113 s"
    assert table.number(1.18, "s") == "1.18 s"
