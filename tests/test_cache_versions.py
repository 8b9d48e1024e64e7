"""A forgotten version bump is caught: the results store keys trained runs and cached analyses with
a hand-bumped version, so a change to the code that produces them must bump it, or stale numbers
are served from the cache as if they were new.

``tests/cache_versions.json`` records, for each cached kind, its version and a sha256 of the
normalized code that produces it: ``ast.dump`` of the modules (or single top-level definitions) in
``KINDS``, docstrings stripped and the values of ``*VERSION`` constants blanked, so comments, docs
and the bump itself do not count. The test fails when the code changed and the version did not.

* The numbers change (or might): bump the version; then record it with ``--update``.
* The change provably leaves every number unchanged (a refactor, a move): record the new code
  without a bump::

      python tests/test_cache_versions.py --update

After moving code, edit ``KINDS`` (the only place that names it) and run ``--update``.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

# kind: (where its version lives, "module:NAME"; the code producing it: modules, or "module:name"
# for a single top-level function, class or constant). The cached kinds they cover are noted.
KINDS: dict[str, tuple[str, list[str]]] = {
    # trained runs (their key includes the version: a bump retrains, and renames every run, so
    # every analysis of them is recomputed too)
    "train": ("lbsm.train.config:TRAIN_CODE_VERSION",
              ["lbsm.train.config", "lbsm.train.protocol", "lbsm.train.remedies", "lbsm.train.closing",
               "lbsm.train.ensemble",
               "lbsm.core.models", "lbsm.core.machine", "lbsm.core.data", "lbsm.core.datasets",
               "lbsm.core.constants"]),
    # store.analysis("sharpness"): Metric 2.1
    "sharpness": ("lbsm.analyses.sharpness:VERSION",
                  ["lbsm.analyses.sharpness", "lbsm.analyses.solver", "lbsm.core.models",
                   "lbsm.experiments.stored:run_sharpness", "lbsm.experiments.stored:training_data",
                   "lbsm.experiments.stored:METRIC_NAME", "lbsm.experiments.stored:_result_dict"]),
    # store.analysis("hessian"): top eigenvalues and Hutchinson traces
    "hessian": ("lbsm.analyses.hessian:VERSION",
                ["lbsm.analyses.hessian", "lbsm.analyses.sharpness:Objective",
                 "lbsm.core.constants", "lbsm.core.models",
                 "lbsm.experiments.trials:hessian_values", "lbsm.experiments.trials:run_data"]),
    # store.analysis("interpolation" | "distance" | "parametric_e3" | "distance_x0"): curves and distances
    "landscape": ("lbsm.analyses.landscape:VERSION",
                  ["lbsm.analyses.landscape", "lbsm.core.models", "lbsm.experiments.stored:path_between",
                   "lbsm.experiments.trials:interpolation", "lbsm.experiments.trials:distance_ratios",
                   "lbsm.experiments.appendix_e:parametric", "lbsm.experiments.beyond:distance_x0"]),
    # store.analysis("cone"): the sampled rises around a minimizer
    "cone": ("lbsm.analyses.cone:CONE_VERSION",
             ["lbsm.analyses.cone", "lbsm.train.protocol:evaluate", "lbsm.core.models",
              "lbsm.experiments.stored:cone_table"]),
    # store.analysis("adaptive" | "reparam" | "surface"): the chapter
    # "Beyond the paper"
    "beyond": ("lbsm.experiments.beyond:VERSION",
               ["lbsm.analyses.adaptive", "lbsm.analyses.reparam", "lbsm.analyses.surface",
                "lbsm.analyses.sharpness", "lbsm.analyses.solver",
                "lbsm.analyses.landscape:loss_and_accuracy", "lbsm.analyses.landscape:recalibrate_",
                "lbsm.core.models", "lbsm.experiments.stored:training_data",
                "lbsm.experiments.trials:run_data", "lbsm.experiments.beyond:adaptive_values",
                "lbsm.experiments.beyond:measure_adaptive",
                "lbsm.experiments.beyond_more:reparam_point", "lbsm.experiments.beyond_more:surfaces"]),
    # store.analysis("noise"): the gradient noise scale B_simple along the twins' training
    "noise": ("lbsm.analyses.noise:VERSION",
              ["lbsm.analyses.noise", "lbsm.analyses.landscape:recalibrate_", "lbsm.core.models",
               "lbsm.experiments.stored:training_data", "lbsm.experiments.beyond_more:noise_point"]),
}

ROOT = Path(__file__).resolve().parent.parent  # the directory holding the lbsm package
REGISTRY = Path(__file__).resolve().parent / "cache_versions.json"
UPDATE = "python tests/test_cache_versions.py --update"
VERSION_NAME = re.compile(r"(^|_)VERSION$")


def module_path(module: str, root: Path = ROOT) -> Path:
    base = root.joinpath(*module.split("."))
    path = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    if not path.is_file():
        raise LookupError(f"no module {module} under {root} (code moved? edit KINDS in {Path(__file__).name})")
    return path


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    return []


def normalized(tree: ast.Module) -> ast.Module:
    """The tree without docstrings and with every ``*VERSION`` constant's value blanked."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(VERSION_NAME.search(t) for t in _targets(node)):
            node.value = ast.Constant(None)
    return tree


def code_dump(entry: str, root: Path = ROOT) -> str:
    """``ast.dump`` of a module, or of one top-level definition ("module:name"), normalized."""
    module, _, name = entry.partition(":")
    tree = normalized(ast.parse(module_path(module, root).read_text()))
    if not name:
        return ast.dump(tree)
    nodes = [n for n in tree.body if name in _targets(n)]
    if not nodes:
        raise LookupError(f"{module} defines no top-level {name} (code moved? edit KINDS in {Path(__file__).name})")
    return "\n".join(ast.dump(n) for n in nodes)


def version(ref: str, root: Path = ROOT):
    """The literal value of the constant ``module:NAME``."""
    module, _, name = ref.partition(":")
    for node in ast.parse(module_path(module, root).read_text()).body:
        if name in _targets(node) and node.value is not None:
            return ast.literal_eval(node.value)
    raise LookupError(f"{module} assigns no {name} (moved? edit KINDS in {Path(__file__).name})")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def current(kinds: dict = KINDS, root: Path = ROOT) -> dict:
    """{kind: {"version", "sha256", "code": {entry: sha256}}} of the code as it is now."""
    out = {}
    for kind, (ref, entries) in kinds.items():
        code = {e: sha(code_dump(e, root)) for e in entries}
        out[kind] = {"version": version(ref, root), "version_at": ref,
                     "sha256": sha("\n".join(f"{e} {h}" for e, h in code.items())), "code": code}
    return out


def check(registry: dict, now: dict) -> tuple[list[str], list[str]]:
    """(errors, stale): errors are code changes without a bump (and versions that went down);
    stale are registry entries that differ from the code only by a bump, or are missing."""
    errors, stale = [], []
    for kind, cur in now.items():
        rec = registry.get(kind)
        if rec is None:
            stale.append(f"{kind}: not in {REGISTRY.name}: record it with `{UPDATE}`")
            continue
        if cur["version"] == rec["version"] and cur["sha256"] != rec["sha256"]:
            changed = sorted(set(cur["code"].items()) ^ set(rec.get("code", {}).items()))
            where = ", ".join(dict.fromkeys(e for e, _ in changed)) or "its code list"
            errors.append(f"{kind}: the code that produces it changed ({where}) but {cur['version_at']} "
                          f"is still {cur['version']}. Bump it (the stored numbers of this kind are then "
                          f"recomputed) and record the bump with `{UPDATE}`; or, if the change provably "
                          f"leaves every number unchanged, record the new code without a bump: `{UPDATE}`")
        elif cur["version"] != rec["version"] and not _newer(cur["version"], rec["version"]):
            errors.append(f"{kind}: {cur['version_at']} went from {rec['version']} back to {cur['version']}: "
                          "a version must only grow (old cached numbers would be served again)")
        elif cur["version"] != rec["version"]:
            stale.append(f"{kind}: bumped to {cur['version']} (registry: {rec['version']}): record it with `{UPDATE}`")
    stale += [f"{kind}: in {REGISTRY.name} but not in KINDS: `{UPDATE}` removes it"
              for kind in registry if kind not in now]
    return errors, stale


def _newer(a, b) -> bool:
    try:
        return a > b
    except TypeError:
        return True  # another kind of version (a string): any change is a bump


PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # ast.dump's format is per version


def load_registry(path: Path = REGISTRY) -> dict:
    return json.loads(path.read_text())["kinds"] if path.is_file() else {}


def registry_python(path: Path = REGISTRY) -> str | None:
    return json.loads(path.read_text()).get("python") if path.is_file() else None


def write_registry(now: dict, path: Path = REGISTRY) -> None:
    path.write_text(json.dumps({
        "about": f"versions and code hashes of cached kinds; see tests/{Path(__file__).name}; "
                 f"regenerate with `{UPDATE}`",
        "python": PYTHON, "kinds": now}, indent=1, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------- tests
@pytest.fixture
def same_python():
    made = registry_python()
    if made is not None and made != PYTHON:
        pytest.skip(f"{REGISTRY.name} was made with Python {made} (ast.dump differs between versions); "
                    f"this is {PYTHON}")


def test_no_code_change_without_a_version_bump(same_python):
    errors, _ = check(load_registry(), current())
    assert not errors, "\n".join(errors)


def test_registry_records_the_current_versions(same_python):
    _, stale = check(load_registry(), current())
    assert not stale, "\n".join(stale)


def _toy(tmp_path: Path, body: str, version_: int, doc: str = "A toy analysis.") -> Path:
    pkg = tmp_path / "toypkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "analysis.py").write_text(f'"""{doc}"""\nVERSION = {version_}  # bump me\n\n\n'
                                     f"def f(x):\n    \"\"\"The number.\"\"\"\n    {body}\n\n\n"
                                     "def g(x):\n    return x\n")
    (pkg / "helper.py").write_text("SCALE = 2\n\n\ndef other():\n    return 1\n")
    return tmp_path


TOY = {"toy": ("toypkg.analysis:VERSION", ["toypkg.analysis", "toypkg.helper:SCALE"])}


def test_guard_catches_a_change_without_a_bump(tmp_path):
    root = _toy(tmp_path, "return 2 * x", 1)
    registry = current(TOY, root)
    assert check(registry, current(TOY, root)) == ([], [])
    # docs, comments and layout are not code
    _toy(tmp_path, "return 2 * x  # twice", 1, doc="A toy analysis, documented at length.")
    assert check(registry, current(TOY, root)) == ([], [])
    # a change of the numbers without a bump is caught, and the message says what to do
    _toy(tmp_path, "return 3 * x", 1)
    errors, _ = check(registry, current(TOY, root))
    assert len(errors) == 1 and "toypkg.analysis" in errors[0] and "toypkg.analysis:VERSION" in errors[0]
    assert "Bump it" in errors[0] and UPDATE in errors[0]
    # so is a change to a single definition the kind depends on, and only that one counts
    _toy(tmp_path, "return 2 * x", 1)
    (tmp_path / "toypkg/helper.py").write_text("SCALE = 3\n\n\ndef other():\n    return 1\n")
    errors, _ = check(registry, current(TOY, root))
    assert len(errors) == 1 and "toypkg.helper:SCALE" in errors[0]
    (tmp_path / "toypkg/helper.py").write_text("SCALE = 2\n\n\ndef other():\n    return 99\n")
    assert check(registry, current(TOY, root)) == ([], [])


def test_guard_passes_a_bump_and_update_records_it(tmp_path):
    root = _toy(tmp_path, "return 2 * x", 1)
    path = tmp_path / "registry.json"
    write_registry(current(TOY, root), path)
    _toy(tmp_path, "return 3 * x", 2)  # the change, with its bump
    errors, stale = check(load_registry(path), current(TOY, root))
    assert errors == [] and len(stale) == 1 and "bumped to 2" in stale[0] and UPDATE in stale[0]
    write_registry(current(TOY, root), path)  # what --update does
    assert check(load_registry(path), current(TOY, root)) == ([], [])
    # a version may not go back (the old numbers would be served again)
    _toy(tmp_path, "return 3 * x", 1)
    errors, _ = check(load_registry(path), current(TOY, root))
    assert len(errors) == 1 and "back to 1" in errors[0]


def test_guard_names_moved_code(tmp_path):
    root = _toy(tmp_path, "return 2 * x", 1)
    with pytest.raises(LookupError, match="edit KINDS"):
        current({"toy": ("toypkg.analysis:VERSION", ["toypkg.gone"])}, root)
    with pytest.raises(LookupError, match="no top-level h"):
        current({"toy": ("toypkg.analysis:VERSION", ["toypkg.analysis:h"])}, root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true",
                    help=f"write {REGISTRY.name} from the code as it is now (after a bump, or for a change "
                         "that provably leaves every number unchanged)")
    a = ap.parse_args(argv)
    now = current()
    if a.update:
        write_registry(now)
        print(f"wrote {REGISTRY}: " + ", ".join(f"{k} v{v['version']}" for k, v in now.items()))
        return 0
    errors, stale = check(load_registry(), now)
    print("\n".join(errors + stale) or f"{REGISTRY.name} is up to date")
    return 1 if errors or stale else 0


if __name__ == "__main__":
    sys.exit(main())
