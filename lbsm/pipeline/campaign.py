"""A campaign: a profile's trials computed one at a time, in the background, across sessions.

    python -m lbsm campaign cpu-v2 --staging /path/to/clean/clone/results [--until 10:30] [--commit]

A trial (one seed: its SB run, its LB run and every analysis the campaign's chapters make of them)
is the unit: it is computed into the *staging* store, then verified and copied whole into the
published store (``--results``, default the checkout's ``results/``), its manifest rewritten, and,
with ``--commit``, committed with a message generated from the trial's numbers. So the published
store only ever holds whole trials, and a killed campaign loses at most the epochs since the last
resume checkpoint (training resumes at epoch granularity; finished runs and analyses are read
back, not redone).

Publish only from committed code: the staging store belongs to a clean checkout of a commit that
is in the published store's history (a ``git worktree``), so every record it writes names that
commit; a campaign refuses to start from a checkout with uncommitted changes. The chapters render
the published trials; ``make book`` never starts a campaign, and CI never runs one.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core import catalog
from ..core.machine import git_commit
from ..core.serving import ServingStore
from ..core.store import Store, UncommittedCodeError
from ..experiments import parameters, profiles
from . import compute


@dataclass(frozen=True)
class Campaign:
    """What a campaign computes: the trials of ``net`` under ``profile``, for ``chapters``.
    ``supersedes``: the profile whose readings the campaign's replace (its verdicts lead the
    book's summary, the profile's follow as the earlier readings)."""
    profile: str
    net: str
    chapters: tuple[str, ...]
    supersedes: str | None = None


CAMPAIGNS = {
    # the decisive F1 trials (issue: the protocol fixed before the numbers): Tables 2-4, Figs. 3
    # and 7, the distance ratio and the Hessian, under the readings of lbsm.experiments.readings
    "cpu-v2": Campaign("cpu-v2", "F1", catalog.chapters(runs="trials"), supersedes="cpu"),
    # C1 as the official code trains it for Figure 3(c)'s plot: 20 fixed epochs per run, the
    # parametric plots on the full sets (39-44 min a trial on 2 Zen 5 cores, about 2 h on 2 Zen 3
    # cores; minutes on a GPU)
    "official-20": Campaign("official-20", "C1", ("gap", "interpolation")),
}


def campaign(name: str) -> Campaign:
    if name not in CAMPAIGNS:
        raise ValueError(f"unknown campaign {name!r}; choose one of {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[name]


def seeds(c: Campaign) -> tuple[int, ...]:
    """The campaign's trials, in the order they are computed (the profile's seed order)."""
    return profiles.get(c.profile).net(c.net).seeds


def trial_runs(c: Campaign, seed: int) -> list[str]:
    """Run names (``<net>-<key>``) of one trial: SB, then LB."""
    return [cfg.name for cfg in profiles.get(c.profile).trial(c.net, seed)]


def published(c: Campaign, store: Store) -> list[int]:
    """The trials whose SB and LB runs are both finished in ``store``, in campaign order."""
    return [s for s in seeds(c) if all(store.is_finished(store.root / "runs" / n)
                                       for n in trial_runs(c, s))]


def compute_trial(c: Campaign, seed: int, staging: Store) -> dict:
    """Every result of trial ``seed`` (and of the trials before it, read back from the staging
    store) into ``staging``: the chapters' parts computed on the first trials up to this one."""
    order = seeds(c)
    upto = list(order[:order.index(seed) + 1])
    P = parameters.override(c.profile, seeds=upto)
    return compute.compute(list(c.chapters), P, store=staging, progress=True)


def new_files(src: Store, dst: Store, runs: list[str] | None = None) -> list[str]:
    """Files of the published dataset in ``src`` that ``dst`` lacks (relative paths), runs' files
    with their ``meta.json`` last (its presence marks a run finished). ``runs``: only the records
    of these runs (their folders, and the analyses whose parameters name one of them), so that a
    trial never publishes something else its staging checkout holds, such as a record the
    published store has since replaced."""
    have = set(dst.published_files())
    out = [f for f in src.published_files() if f not in have]
    if runs is not None:
        out = [f for f in out if _of_runs(src.root / f, f, set(runs))]
    return sorted(out, key=lambda f: (f.startswith("runs/"), f.endswith("meta.json"), f))


def _of_runs(path: Path, rel: str, runs: set[str]) -> bool:
    """Whether the record at ``rel`` belongs to one of ``runs``: a file of its folder, or an
    analysis whose parameters name it."""
    parts = rel.split("/")
    if parts[0] == "runs":
        return parts[1] in runs
    if parts[0] == "analyses" and rel.endswith(".json"):
        import json
        params = json.loads(path.read_text()).get("params", {})
        return any(v in runs for v in params.values() if isinstance(v, str))
    return False


def publish(src: Store, dst: Store, files: list[str]) -> None:
    """Copy verified ``files`` from the staging store into the published one, then reseal its
    manifest (which verifies the whole store first and refuses while anything fails)."""
    for rel in files:
        target = dst.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.campaign")
        shutil.copyfile(src.root / rel, tmp)
        tmp.replace(target)
    dst.write_manifest()


def summary(c: Campaign, seed: int, store: Store) -> str:
    """One line on a published trial, from its records: test accuracies and epochs."""
    from ..train.protocol import Run
    sb, lb = (Run.load(store.root / "runs" / n, store) for n in trial_runs(c, seed))
    return ", ".join(f"{regime} {r.final['test_acc']:.2f} % ({r.meta['epochs_run']} epochs, "
                     f"{r.meta['stopped_by']})" for regime, r in (("SB", sb), ("LB", lb)))


def git_commit_results(dst: Store, message: str, retries: int = 30) -> None:
    """Commit the published store's folder alone (other work in the checkout stays uncommitted)."""
    repo = dst.root.parent
    rel = dst.root.name
    subprocess.run(["git", "add", "--", rel], cwd=repo, check=True)
    for _ in range(retries):
        out = subprocess.run(["git", "commit", "-q", "-m", message, "--", rel], cwd=repo,
                             capture_output=True, text=True)
        if out.returncode == 0 or "nothing to commit" in out.stdout + out.stderr:
            return
        if "index.lock" not in out.stderr:
            raise RuntimeError(f"git commit in {repo} failed: {out.stderr.strip()}")
        time.sleep(2)  # someone else is committing in that checkout
    raise RuntimeError(f"git commit in {repo}: the index stayed locked")


def run(name: str, staging: Store, dst: Store, until: float | None = None, commit: bool = False,
        log: Callable = print) -> list[int]:
    """Compute the campaign's missing trials one at a time (staging, then published), until all
    are published or the clock passes ``until`` (a time.time(); a trial is not started after it).
    Returns the seeds published by this call."""
    c = campaign(name)
    code = git_commit()
    if code.endswith("-dirty") or code == "unknown":
        raise UncommittedCodeError(
            f"the campaign's code is at {code}: run it from a clean checkout of a committed "
            "commit (git worktree add /tmp/campaign HEAD), whose results/ is the staging store")
    done = []
    for seed in seeds(c):
        if seed in published(c, dst):
            continue
        if until is not None and time.time() > until:
            log(f"campaign {name}: stopping before trial {seed} (past --until)")
            break
        t0 = time.perf_counter()
        log(f"campaign {name}: trial {seed} ({len(published(c, dst))} of {len(seeds(c))} published)")
        compute_trial(c, seed, staging)
        files = new_files(staging, dst, trial_runs(c, seed))
        problems = [p for p in staging.verify(require_manifest=False)["problems"]
                    if any(f in p for f in files)]
        if problems:
            raise RuntimeError(f"trial {seed} does not verify in {staging.root}: {problems[:5]}")
        publish(staging, dst, files)
        line = summary(c, seed, dst)
        minutes = (time.perf_counter() - t0) / 60
        log(f"campaign {name}: trial {seed} published ({len(files)} files, {minutes:.1f} min): {line}")
        if commit:
            k = len(published(c, dst))
            git_commit_results(dst, f"Campaign {name}: trial {seed} published ({k} of "
                                    f"{len(seeds(c))}; computed at {code} in {minutes:.1f} min): "
                                    f"{line}")
        done.append(seed)
    return done


def command(name: str) -> str:
    """The command that computes (or continues) campaign ``name``."""
    return f"python -m lbsm campaign {name} --staging <a clean checkout>/results --commit"


def commands() -> dict[str, str]:
    """{what: command} for every campaign, and the paper profile (for the book's summary)."""
    out = {f"campaign {n} ({c.net}, profile {c.profile})": command(n) for n, c in CAMPAIGNS.items()}
    return {**out, "every panel of the paper, on a GPU": "make book PROFILE=paper"}


@dataclass
class Progress:
    """What a campaign has published: its profile restricted to the published trials, their runs
    ({name: Run}), the published seeds, the planned number of trials, the command that goes on and
    the profile whose readings it supersedes (``Campaign.supersedes``)."""
    name: str
    profile: profiles.Profile
    runs: dict
    done: list[int]
    total: int
    command: str
    supersedes: str | None = None


def progress(name: str, store: Store) -> Progress:
    """What campaign ``name`` has published so far, read from ``store`` (nothing is computed). The
    gap chapter renders it ("k of n trials") until the campaign replaces its profile."""
    from ..train.protocol import Run
    c = campaign(name)
    done = published(c, store)
    runs = {n: Run.load(store.root / "runs" / n, store) for s in done for n in trial_runs(c, s)}
    P = parameters.override(c.profile, seeds=done) if done else profiles.get(c.profile)
    return Progress(name, P, runs, done, len(seeds(c)), command(name), c.supersedes)


def published_chapters(p: Progress, store: Store) -> dict:
    """The campaign's chapters computed on its published trials alone ({chapter: parts}, as
    :func:`lbsm.pipeline.compute.compute` gives them): every run and analysis is read back from
    ``store``, none is trained and no analysis is computed (a ``ServingStore``:
    a part that finds an analysis missing raises ``NotStored`` or, where it says so, leaves that
    minimizer out). Empty while no trial is published."""
    if not p.done:
        return {}
    c = campaign(p.name)
    missing = [n for n in p.runs if not store.is_finished(store.root / "runs" / n)]
    if missing:
        raise RuntimeError(f"campaign {p.name}: runs {missing[:3]} are not finished in {store.root}")
    return compute.compute(list(c.chapters), p.profile, store=ServingStore.of(store))
