"""Which code a result came from (lbsm.core.source): the git commit here, and on a copy of the
checkout without .git (a borrowed GPU) the commit of a source stamp, which vouches only for the
very files it lists."""
import json
import shutil
import subprocess
import sys

import pytest

from lbsm.core import source


def _package(root):
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("A = 1\n")
    (pkg / "sub" / "b.json").write_text("{}\n")
    return pkg


def _stamp(root, pkg, commit="abc1234"):
    path = root / ".gpu-parts" / "source.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"commit": commit, "files": source.package_files(pkg)}))
    return path


def test_a_stamp_vouches_for_exactly_its_files(tmp_path):
    pkg = _package(tmp_path)
    stamp = _stamp(tmp_path, pkg)
    assert source.stamped_commit(pkg, stamp) == "abc1234"
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")   # bytecode is not the code
    assert source.stamped_commit(pkg, stamp) == "abc1234"
    (pkg / "sub" / "b.json").write_text('{"changed": 1}\n')
    assert source.stamped_commit(pkg, stamp) == "abc1234-dirty"
    (pkg / "sub" / "b.json").write_text("{}\n")
    (pkg / "extra.py").write_text("")
    assert source.stamped_commit(pkg, stamp) == "abc1234-dirty"


@pytest.mark.parametrize("text", [None, "not json", '{"files": {}}', '["abc1234"]'])
def test_no_readable_stamp_is_unknown(tmp_path, text):
    pkg = _package(tmp_path)
    stamp = tmp_path / "source.json"
    if text is not None:
        stamp.write_text(text)
    assert source.stamped_commit(pkg, stamp) == "unknown"


def _git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_stamp_is_written_only_from_a_clean_checkout(tmp_path):
    pkg = _package(tmp_path)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "pkg")
    _git(tmp_path, "commit", "-qm", "x")
    out = tmp_path / "stamp.json"
    stamp = source.write_stamp(out, pkg)
    assert stamp["commit"] == _git(tmp_path, "rev-parse", "--short", "HEAD")
    assert json.loads(out.read_text())["files"] == source.package_files(pkg)
    (pkg / "a.py").write_text("A = 2\n")
    with pytest.raises(ValueError, match="not a clean git checkout"):
        source.write_stamp(out, pkg)
    (pkg / "a.py").write_text("A = 1\n")
    (pkg / "new.py").write_text("")
    with pytest.raises(ValueError, match="untracked: pkg/new.py"):
        source.write_stamp(out, pkg)


def test_a_copy_without_git_names_the_stamps_commit(tmp_path):
    """The package copied as a GPU gets it (no .git), run in a fresh interpreter: the stamp's
    commit while the files match, "-dirty" once one differs, "unknown" without the stamp."""
    shutil.copytree(source.PACKAGE, tmp_path / "lbsm", ignore=shutil.ignore_patterns("__pycache__"))

    def commit():
        return subprocess.run([sys.executable, "-c", "from lbsm.core import machine; print(machine.git_commit())"],
                              cwd=tmp_path, capture_output=True, text=True, check=True,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}).stdout.strip()
    assert commit() == "unknown"
    _stamp(tmp_path, tmp_path / "lbsm", commit="c0ffee1")
    assert commit() == "c0ffee1"
    with (tmp_path / "lbsm" / "core" / "constants.py").open("a") as f:
        f.write("# changed\n")
    assert commit() == "c0ffee1-dirty"
