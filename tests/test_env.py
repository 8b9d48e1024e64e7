"""The lock file the Makefile installs from and environment.yml pin the same versions."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        line = line.strip()
        if m := re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line):
            out[m[1].lower().replace("_", "-")] = m[2]
    return out


def test_environment_yml_matches_lock():
    lock = pins((ROOT / "requirements.lock").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"]
    assert pins(pip_section) == lock
    assert lock["torch"] == "2.13.0"  # an unpinned torch pulls gigabytes of CUDA wheels


def test_lock_pins_every_line():
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        assert not line.strip() or "==" in line, f"unpinned: {line}"
