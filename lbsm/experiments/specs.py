"""Typed experiment specs: one frozen dataclass per section of the paper a profile runs.

A spec says everything a section needs and nothing else; its section module turns it into the
runs to train (``configs(spec) -> list[TrainConfig]``) and, once they are trained, into its tidy
frame (``frame(spec, runs, store)``). Profiles (:mod:`lbsm.experiments.profiles`) are these specs,
written once; a misspelled field is a TypeError where the profile is written, not a knob silently
ignored. The stores' keys come from the TrainConfigs and analysis parameters the sections build,
so a spec's field names can change without moving a stored number.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..core.constants import EPS, SB_BATCH, SHARPNESS_ITERS


@dataclass(frozen=True)
class RunSettings:
    """The TrainConfig fields every run of a section shares (see :class:`lbsm.train.protocol.TrainConfig`)."""
    train_subset: int | None = None
    test_subset: int | None = None
    precision: str = "fp32"
    stop: str = "epochs"           # "plateau": until the training loss ceased to improve (capped)

    def common(self, seed: int) -> dict:
        return dict(seed=seed, train_subset=self.train_subset, test_subset=self.test_subset,
                    precision=self.precision, stop=self.stop)


@dataclass(frozen=True)
class SharpnessSettings:
    """Metric 2.1 as a section measures it: ``iters`` L-BFGS-B iterations at each ``eps`` on the
    first ``subset`` training examples (None: all of the run's)."""
    iters: int = SHARPNESS_ITERS
    subset: int | None = None
    eps: tuple[float, ...] = EPS


@dataclass(frozen=True)
class Fig4Spec:
    """Fig. 4: ``epochs`` at each batch size (the paper: 100), test accuracy and sharpness."""
    net: str
    batch_sizes: tuple[int, ...]
    epochs: int = 100
    seeds: tuple[int, ...] = (0,)
    train: RunSettings = RunSettings()
    sharpness: SharpnessSettings = SharpnessSettings()


@dataclass(frozen=True)
class Fig5Spec:
    """Fig. 5: SB for ``sb_epochs`` keeping every epoch's weights, an LB run warm-started from each
    kept epoch (``sb_epoch_subset``: some of them) for ``lb_epochs``."""
    net: str
    sb_epochs: int = 100
    lb_epochs: int = 100
    sb_epoch_subset: tuple[int, ...] | None = None
    seed: int = 0
    sb_batch: int = SB_BATCH
    lb_batch: int | None = None    # None: 10 % of the training set
    train: RunSettings = RunSettings()
    sharpness: SharpnessSettings = SharpnessSettings()


@dataclass(frozen=True)
class Fig6Spec:
    """Fig. 6: one SB and one LB run with every epoch's weights kept; sharpness at ``epochs``
    sampled epochs (None: every epoch; an int: that many, evenly spaced; a tuple: those)."""
    net: str
    sb_epochs: int = 100
    lb_epochs: int = 100
    epochs: int | tuple[int, ...] | None = None
    seed: int = 0
    sb_batch: int = SB_BATCH
    lb_batch: int | None = None
    train: RunSettings = RunSettings()
    sharpness: SharpnessSettings = SharpnessSettings()


@dataclass(frozen=True)
class ConeSpec:
    """The "not a cone" remark at the final SB and LB minimizers of a trial: ``directions`` random
    box vertices at eps = ``radius``; steep: a rise of at least ``threshold`` x Metric 2.1's."""
    net: str
    directions: int = 100
    radius: float = 1e-3
    threshold: float = 0.5
    subset: int | None = None
    sharpness_iters: int = SHARPNESS_ITERS
    seed: int = 0


@dataclass(frozen=True)
class AppendixCSpec:
    """Appendix C's performance model: the SB method's parallel efficiency ``f_s``."""
    f_s: float = 0.2


@dataclass(frozen=True)
class RemedySpec:
    """Tables 6 / 7 and E.3: per seed an SB baseline and an LB run with a remedy (``method`` of
    :mod:`lbsm.train.remedies`, ``"adam"`` for none; ``augment``: Appendix E.1's augmentation for
    both), ``plain_lb``: also Table 2's LB; ``sharpness_sb``: also the SB baseline's sharpness."""
    net: str
    method: str = "adam"
    method_args: dict = field(default_factory=dict)
    augment: bool = False
    seeds: tuple[int, ...] = (0,)
    sb_epochs: int = 100
    lb_epochs: int = 100
    sb_batch: int = SB_BATCH
    lb_batch: int | None = None
    plain_lb: bool = False
    sharpness_sb: bool = False
    train: RunSettings = RunSettings()
    sharpness: SharpnessSettings = SharpnessSettings()


@dataclass(frozen=True)
class SmallBatches:
    """Section 3 under a profile: the networks of each figure, and Appendix C's model."""
    fig4: tuple[Fig4Spec, ...] = ()
    fig5: tuple[Fig5Spec, ...] = ()
    fig6: tuple[Fig6Spec, ...] = ()
    cone: tuple[ConeSpec, ...] = ()
    appendix_c: AppendixCSpec = AppendixCSpec()


@dataclass(frozen=True)
class Remedies:
    """Appendix E under a profile: Table 6 (augmentation), Table 7 (conservative training) and the
    two robust-training methods of E.3."""
    augmentation: tuple[RemedySpec, ...] = ()
    conservative: tuple[RemedySpec, ...] = ()
    adversarial: tuple[RemedySpec, ...] = ()
    stability: tuple[RemedySpec, ...] = ()


@dataclass(frozen=True)
class Closing:
    """One way to train a trial's LB run in the chapter "Beyond the paper": a ``method`` of
    :mod:`lbsm.train.closing` (``"adam"``: plain ADAM) with its ``method_args``; ``epochs``: None
    keeps the trial LB's stop rule and cap (the plateau rule), a number trains exactly that many
    epochs (``stop="epochs"``: "train longer")."""
    name: str
    method: str = "adam"
    method_args: dict = field(default_factory=dict)
    epochs: int | None = None


@dataclass(frozen=True)
class BeyondSpec:
    """The chapter "Beyond the paper" on one network's trials (``Profile.trials``: the gap chapter's
    SB and LB runs are its baselines): the LB runs of ``methods`` for ``seeds`` (None: the trials'),
    adaptive sharpness (worst case l_inf at ``adaptive_rho``, ``adaptive_iters`` steps; average at
    ``average_rho`` over ``average_samples`` draws, both on ``adaptive_subset`` examples, in float64)
    for every method run and the twins of the first ``adaptive_seeds`` baselines (None: all; a
    twin is the baseline's config keeping every epoch's weights), the reparametrization at ``alphas`` (Metric 2.1 with the
    profile's iterations on ``reparam_subset`` examples), filter-normalized surfaces on a
    ``surface_points`` x ``surface_points`` grid in [-``surface_span``, ``surface_span``]^2 on
    ``surface_subset`` examples, the gradient noise scale on ``noise_subset`` examples at
    ``noise_epochs`` epochs of each twin (evenly spaced, both ends), and Kendall's tau with
    ``n_boot`` bootstrap resamples. Reparametrization, surfaces and noise are of trial 0's twins."""
    net: str
    methods: tuple[Closing, ...] = ()
    seeds: tuple[int, ...] | None = None
    adaptive_rho: float = 1e-3
    adaptive_iters: int = 20
    average_rho: float = 0.1
    average_samples: int = 100
    adaptive_subset: int | None = 10000
    adaptive_seeds: int | None = None
    alphas: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
    reparam_subset: int | None = 10000
    surface_points: int = 21
    surface_span: float = 1.0
    surface_subset: int | None = 10000
    noise_subset: int | None = 10000
    noise_epochs: int = 6
    n_boot: int = 1000


def sections(group: SmallBatches | Remedies) -> dict[str, tuple]:
    """{section name: its specs} of a chapter's group (the per-network sections only)."""
    return {f.name: getattr(group, f.name) for f in dataclasses.fields(group)
            if isinstance(getattr(group, f.name), tuple)}


def replace(spec, **changes):
    """``spec`` with some fields changed; ``train`` / ``sharpness`` fields by their own names
    (``train_subset=...``, ``sharpness_iters=...``) for specs that have them."""
    own = {f.name for f in dataclasses.fields(spec)}
    run_fields = {f.name for f in dataclasses.fields(RunSettings)}
    sharp = {"sharpness_iters": "iters", "sharpness_subset": "subset", "eps": "eps"}
    direct = {k: v for k, v in changes.items() if k in own}
    if "train" in own:
        tr = {k: v for k, v in changes.items() if k in run_fields and k not in own}
        if tr:
            direct["train"] = dataclasses.replace(spec.train, **tr)
    if "sharpness" in own:
        sh = {sharp[k]: v for k, v in changes.items() if k in sharp and k not in own}
        if sh:
            direct["sharpness"] = dataclasses.replace(spec.sharpness, **sh)
    unknown = set(changes) - own - (run_fields if "train" in own else set()) \
        - (set(sharp) if "sharpness" in own else set())
    if unknown:
        raise TypeError(f"{type(spec).__name__} has no field(s) {', '.join(sorted(unknown))}")
    return dataclasses.replace(spec, **direct)
