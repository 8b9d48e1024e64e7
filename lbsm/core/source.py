"""Which code a result was computed from: the git commit of the checkout, "-dirty" when the
package has uncommitted changes (no provenance), and on a copy of a checkout without ``.git`` (a
borrowed GPU gets the working tree, not the repository) the commit of a *source stamp* that vouches
for the package file by file.

The stamp is written here, from a clean checkout (``make gpu-parts`` writes
``.gpu-parts/source.json``: the commit and the sha256 of every tracked file of ``lbsm/``), and
carried along with the data parts. There, :func:`git_commit` finds no git, reads the stamp and
hashes the package it is running: the same files with the same contents give the stamp's commit,
anything else the commit with "-dirty", and no stamp "unknown". A stamp never vouches for code
that differs from the commit it names.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]   # lbsm/, all of it
STAMP_PATH = Path(".gpu-parts") / "source.json"   # beside the package, with the data parts a GPU window carries
STAMP = PACKAGE.parent / STAMP_PATH


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=5).stdout.strip()


def package_files(package: Path = PACKAGE) -> dict[str, str]:
    """{path relative to the package's parent: sha256} of every file of ``package`` but Python's
    bytecode caches (what a copy of the working tree holds of it)."""
    return {p.relative_to(package.parent).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(package.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def git_commit(package: Path = PACKAGE, stamp: Path | None = None) -> str:
    """The short commit of the checkout, with "-dirty" when the package itself has uncommitted
    changes (executed notebooks and results do not count, the code does); outside a git checkout,
    the commit a source stamp vouches for (:func:`stamped_commit`), else "unknown"."""
    try:
        commit = _git("rev-parse", "--short", "HEAD", cwd=package)
        if not commit:
            return stamped_commit(package, stamp or package.parent / STAMP_PATH)
        changed = _git("status", "--porcelain", "--", ".", cwd=package)
        return commit + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_stamp(path: Path = STAMP, package: Path = PACKAGE) -> dict:
    """Write the source stamp of a clean checkout: its commit and the sha256 of every tracked file
    of the package. Refuses (ValueError) where the package has uncommitted changes or untracked
    files, since the stamp would vouch for code no commit holds."""
    commit = git_commit(package)
    tracked = set(_git("ls-files", "--", ".", cwd=package).splitlines())
    files = package_files(package)
    extra = sorted(set(files) - {f"{package.name}/{t}" for t in tracked})
    if commit in ("unknown", "") or commit.endswith("-dirty") or extra:
        raise ValueError(f"no source stamp written: {package} is not a clean git checkout (commit "
                         f"{commit or 'none'}{'; untracked: ' + ', '.join(extra[:3]) if extra else ''}); "
                         "commit or remove the changes first")
    stamp = {"commit": commit, "files": files}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    return stamp


def stamped_commit(package: Path = PACKAGE, stamp: Path = STAMP) -> str:
    """The commit ``stamp`` names when ``package`` holds exactly its files with their contents,
    that commit with "-dirty" when it does not, "unknown" without a readable stamp."""
    try:
        got = json.loads(stamp.read_text())
        commit, files = str(got["commit"]), dict(got["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"
    return commit + ("" if package_files(package) == files else "-dirty")
