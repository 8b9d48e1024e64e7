"""What a chapter of sections runs under a profile: the specs of each section whose data is there,
what is skipped and why, and the tidy :class:`Result` each section gives.

``plan(P, "small_batches")`` keeps the specs whose network's data set is in the data directory
(md5-checked once per process) and, in Section 3, lets F1 (MNIST) stand in for F2 when the TIMIT
features are missing, with Fig. 4's batch sizes scaled to the same fractions of the training set.
A section's runs reach it as ``runs``: {run name: :class:`lbsm.train.protocol.Run`}, built once by
the compute step (:mod:`lbsm.pipeline.compute`) and handed to every part.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..core import data as lbsm_data
from ..core import catalog, models
from ..core.constants import DATASET_NAMES
from ..train.protocol import Run, TrainConfig, lb_batch
from . import profiles, specs

CHAPTERS = catalog.chapters(runs="sections")  # chapters of sections (lbsm.core.catalog)
TIMIT_STANDIN = ("F2", "F1")  # F1 on MNIST stands in for F2 when the TIMIT features are missing
Runs = Mapping[str, Run]      # run name -> stored run


@functools.lru_cache(maxsize=None)
def _data_problems(dataset: str, root: str) -> tuple[str, ...]:
    return tuple(lbsm_data.check(dataset, root))


def data_ready(dataset: str) -> bool:
    """Whether a data set's files are in the data directory with the right md5 (cached)."""
    return not _data_problems(dataset, str(lbsm_data.data_dir()))


def data_need(dataset: str) -> str:
    """What a missing data set needs, in the book's words: licensed data is "needs data: TIMIT";
    a free download is named as one ("needs a free download (CIFAR-100)")."""
    name = DATASET_NAMES[dataset]
    return f"needs data: {name}" if dataset in lbsm_data.LICENSED else f"needs a free download ({name})"


def dataset_of(net: str) -> str:
    """The data set a network trains on (``mnist``, ``timit``, ``cifar10``, ``cifar100``)."""
    return models.NETWORKS[net][0]


def pick(runs: Runs, configs) -> list[Run]:
    """The runs of ``configs`` out of a chapter's runs, in order (a clear error for one missing)."""
    out = []
    for c in configs:
        if c.name not in runs:
            raise KeyError(f"run {c.name} ({c.net}, batch {c.batch_size}, seed {c.seed}) is not among "
                           "this chapter's runs: its spec and the compute step's configs disagree")
        out.append(runs[c.name])
    return out


@dataclass
class Plan:
    """A chapter's sections under a profile: the specs that run, what is skipped and why."""
    profile: profiles.Profile
    chapter: str
    specs: dict = field(default_factory=dict)       # section -> (spec, ...) that run
    skipped: dict = field(default_factory=dict)     # section -> net -> reason
    stand_ins: dict = field(default_factory=dict)   # section -> {stand-in net: replaced net}

    @property
    def appendix_c(self) -> specs.AppendixCSpec:
        return self.profile.small_batches.appendix_c


def _scaled(spec, src: str, dst: str):
    """``spec`` for network ``dst``, its batch sizes (Fig. 4) scaled to the same fractions of
    ``dst``'s training set."""
    changes = {"net": dst}
    if isinstance(spec, specs.Fig4Spec):
        r = lb_batch(dst) / lb_batch(src)
        changes["batch_sizes"] = tuple(sorted({max(1, round(b * r)) for b in spec.batch_sizes}))
    return dataclasses.replace(spec, **changes)


def plan(P: profiles.Profile, chapter: str, nets=None) -> Plan:
    """The specs of ``chapter`` under ``P``, keeping the networks whose data is there; ``nets``: a
    list (or comma string) restricting the networks (None: the profile's)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter of sections {chapter!r}; choose one of {', '.join(CHAPTERS)}")
    keep = None if nets is None else [n.strip() for n in (nets.split(",") if isinstance(nets, str) else nets)]
    S = Plan(P, chapter)
    for section, section_specs in specs.sections(getattr(P, catalog.REGISTRY[chapter].knobs)).items():
        run, skipped, stand = [], {}, {}
        nets_here = {s.net for s in section_specs}
        for spec in section_specs:
            if not data_ready(dataset_of(spec.net)):
                old, new = TIMIT_STANDIN
                if chapter == "small_batches" and spec.net == old and new not in nets_here \
                        and data_ready(dataset_of(new)) and (keep is None or new in keep):
                    run.append(_scaled(spec, old, new))
                    stand[new] = old
                skipped[spec.net] = f"needs data: {DATASET_NAMES[dataset_of(spec.net)]}"
            elif keep is not None and spec.net not in keep:
                skipped[spec.net] = f"not selected (nets = {','.join(keep)})"
            elif section == "cone" and spec.net not in P.nets:  # it samples the trials' minimizers
                skipped[spec.net] = f"no trial of {spec.net} in profile {P.name}"
            else:
                run.append(spec)
        S.specs[section], S.skipped[section], S.stand_ins[section] = tuple(run), skipped, stand
    return S


@dataclass(frozen=True)
class Result:
    """A section's tidy data, the runs behind it (net -> [Run]) and the specs used (net -> spec)."""
    section: str
    plan: Plan
    data: pd.DataFrame
    runs: dict = field(default_factory=dict)
    specs: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)       # E.3: its two methods' own Results

    @property
    def nets(self) -> list[str]:
        return list(self.specs)


def section_configs(S: Plan, configs_of) -> list[TrainConfig]:
    """Every run the sections of ``S`` train (``configs_of(section, spec)``), each once, in an
    order where a warm start follows its SB run."""
    cfgs = [c for section, ss in S.specs.items() for spec in ss for c in configs_of(section, spec)]
    return list({c.key: c for c in cfgs}.values())
