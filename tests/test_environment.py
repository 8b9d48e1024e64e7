"""The environment is read at the top only, and the report reads no data.

The command line (``lbsm/cli*.py``, ``lbsm/__main__.py``) and the book (``lbsm/book.py``: its
runner and the helper every chapter's first cell calls) read ``$LBSM_RESULTS``, ``$LBSM_WEIGHTS``,
``$LBSM_DATA`` and ``$LBSM_CSV_DIR`` once and pass the folders down; no other module of the package
touches ``os.environ`` or ``os.getenv``. And ``lbsm.report`` imports nothing from the modules that
read or check data files or open a results store (``lbsm.core.data``, ``lbsm.core.store``): what it
words about them comes in the computed chapters (``Chapter.data_ready``, setup's ``datasets``).
"""
from __future__ import annotations

import ast
from pathlib import Path

from test_layers import PKG, imports, module_name, synthetic_package

TOP = ("__main__.py", "book.py")  # besides lbsm/cli*.py: where the environment may be read
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
NO_DATA = ("lbsm.core.data", "lbsm.core.store")  # what lbsm.report must not import


def may_read_environment(path: Path, pkg: Path = PKG) -> bool:
    return path.parent == pkg and (path.name.startswith("cli") or path.name in TOP)


def environment_reads(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: what`` for every touch of the process environment in ``source``: ``os.environ``
    (read, written or subscripted, under any name ``os`` is bound to), ``os.getenv`` and the
    like, ``from os import environ`` / ``getenv``, and a bare ``environ[...]``."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            out.append(f"{filename}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            out += [f"{filename}:{node.lineno}: from os import {a.name}"
                    for a in node.names if a.name in ENV_NAMES | {"*"}]
        elif isinstance(node, ast.Name) and node.id in ENV_NAMES:
            out.append(f"{filename}:{node.lineno}: {node.id}")
    return sorted(set(out), key=lambda s: (s.split(":")[0], int(s.split(":")[1]), s))


def package_environment_reads(pkg: Path = PKG) -> list[str]:
    """:func:`environment_reads` of every module of the package below the command line and book."""
    out = []
    for f in sorted(pkg.rglob("*.py")):
        if not may_read_environment(f, pkg):
            out += environment_reads(f.read_text(), str(f.relative_to(pkg.parent)))
    return out


def report_data_imports(pkg: Path = PKG) -> list[str]:
    """``module:line imports target`` for every import (function-level ones included) by a module
    of ``lbsm.report`` of ``lbsm.core.data`` or ``lbsm.core.store`` (or of a name in them)."""
    return [f"{m}:{line} imports {t}" for m, ts in imports(pkg).items()
            if m == "lbsm.report" or m.startswith("lbsm.report.")
            for t, line in sorted(ts) if any(t == n or t.startswith(n + ".") for n in NO_DATA)]


def test_no_module_below_the_command_line_reads_the_environment():
    assert package_environment_reads() == []


def test_the_report_imports_no_data_or_store_module():
    assert report_data_imports() == []


def test_the_environment_check_catches_every_form():
    src = ("import os\nimport os as o\nfrom os import environ, getenv\n"
           "a = os.environ.get('LBSM_DATA')\n"      # 4
           "b = o.getenv('LBSM_RESULTS')\n"         # 5
           "os.environ['LBSM_DATA'] = '/x'\n"        # 6
           "c = environ['LBSM_CSV_DIR']\n"           # 7
           "def f():\n    return os.environ\n")      # 9
    found = environment_reads(src, "m.py")
    assert found == ["m.py:3: from os import environ", "m.py:3: from os import getenv",
                     "m.py:4: .environ", "m.py:5: .getenv", "m.py:6: .environ", "m.py:7: environ",
                     "m.py:9: .environ"]
    assert environment_reads("import os\nX = os.path.join('a', 'b')\n") == []


def test_the_package_walk_spares_the_top_only(tmp_path):
    """A read in a module below is named by file and line; the same read in the CLI and the book
    runner is where it belongs."""
    pkg = tmp_path / "lbsm"
    (pkg / "core").mkdir(parents=True)
    for f in ("__init__.py", "core/__init__.py"):
        (pkg / f).write_text("")
    read = "import os\n\n\ndef f():\n    return os.getenv('LBSM_DATA')\n"
    for f in ("cli.py", "cli_commands.py", "book.py", "__main__.py"):
        (pkg / f).write_text(read)
    assert package_environment_reads(pkg) == []
    (pkg / "core" / "paths.py").write_text(read)
    assert package_environment_reads(pkg) == ["lbsm/core/paths.py:5: .getenv"]


def test_the_report_import_check_catches_a_function_level_import(tmp_path):
    pkg = synthetic_package(tmp_path, {"core/data.py": "LICENSED = ('timit',)\n",
                                       "core/store.py": "class Store: ...\n",
                                       "core/datasets.py": "LICENSED = ('timit',)\n",
                                       "report/a.py": "from ..core.datasets import LICENSED\n"})
    assert report_data_imports(pkg) == []
    (pkg / "report" / "a.py").write_text("def f():\n    from ..core import data\n")
    (pkg / "report" / "b.py").write_text("from ..core.store import Store\n")
    (pkg / "report" / "c.py").write_text("import lbsm.core.data\n")
    assert report_data_imports(pkg) == ["lbsm.report.a:2 imports lbsm.core.data",
                                        "lbsm.report.b:1 imports lbsm.core.store",
                                        "lbsm.report.c:1 imports lbsm.core.data"]
    assert module_name(pkg / "report" / "a.py", pkg) == "lbsm.report.a"
