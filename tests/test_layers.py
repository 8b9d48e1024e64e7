"""The package's tree is its architecture: each subpackage imports only from the layers below it,
and no module reaches back up or round in a circle, not even from inside a function.

    core -> train -> analyses -> experiments -> pipeline -> report -> (cli, book)
"""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "lbsm"
LAYERS = ("core", "train", "analyses", "experiments", "pipeline", "report", "app")
MAX_LINES = 420


def module_name(path: Path, pkg: Path = PKG) -> str:
    parts = list(path.relative_to(pkg.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(pkg: Path = PKG) -> dict[str, Path]:
    return {module_name(f, pkg): f for f in sorted(pkg.rglob("*.py"))}


def imports(pkg: Path = PKG) -> dict[str, set[tuple[str, int]]]:
    """{module: {(lbsm module it imports, line)}}: every import statement, wherever it stands."""
    mods = modules(pkg)
    out: dict[str, set[tuple[str, int]]] = {m: set() for m in mods}
    for m, f in mods.items():
        is_pkg = f.name == "__init__.py"
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.split(".") if is_pkg else m.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [f"{target}.{a.name}" for a in node.names]
                found = [n if n in mods else target for n in names]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            out[m] |= {(t, node.lineno) for t in found if t in mods and t != m}
    return out


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else LAYERS.index("app")


def upward(edges) -> list[str]:
    return [f"{m}:{line} imports {t} ({LAYERS[layer(t)]} is above {LAYERS[layer(m)]})"
            for m, ts in edges.items() for t, line in sorted(ts) if layer(t) > layer(m)]


def cycle(edges) -> list[str] | None:
    try:
        graphlib.TopologicalSorter({m: {t for t, _ in ts} for m, ts in edges.items()}).prepare()
    except graphlib.CycleError as e:
        return e.args[1]
    return None


def test_no_module_imports_a_layer_above_it():
    assert upward(imports()) == []


def test_no_import_cycle():
    assert cycle(imports()) is None


def test_every_module_is_in_a_layer_and_small():
    big = {m: n for m, f in modules().items() if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert big == {}, f"modules over {MAX_LINES} lines: {big}"
    stray = [str(f) for f in modules().values() if f.parent == PKG and f.stem in LAYERS]
    assert stray == [], "a layer is a subpackage, not a module"


def synthetic_package(root: Path, sources: dict[str, str]) -> Path:
    """A package ``root/lbsm`` with subpackages ``core`` and ``report`` and the modules
    ``sources`` names ({"core/a.py": source}): what the checks' own tests walk."""
    pkg = root / "lbsm"
    for sub in ("core", "report"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    for rel, source in sources.items():
        (pkg / rel).write_text(source)
    return pkg


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The walker sees an upward import inside a function, and a cycle through two modules."""
    pkg = synthetic_package(tmp_path, {"core/a.py": "def f():\n    from ..report import b\n",
                                       "report/b.py": "from ..core import a\n"})
    edges = imports(pkg)
    assert upward(edges) == ["lbsm.core.a:2 imports lbsm.report.b (report is above core)"]
    assert set(cycle(edges)) == {"lbsm.core.a", "lbsm.report.b"}
    (pkg / "core" / "a.py").write_text("X = 1\n")
    assert upward(imports(pkg)) == [] and cycle(imports(pkg)) is None


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: module_name(p))
def test_each_module_says_its_one_job(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    if path.name == "__init__.py" and not path.read_text().strip():
        pytest.skip("empty package marker")
    assert doc and len(doc.split()) >= 5, f"{path}: the first lines say what the module is for"
