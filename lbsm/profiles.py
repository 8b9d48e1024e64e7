"""Profiles: how much of the paper's protocol a run of the book does, as data in one place.

* ``smoke``: seconds per chapter on 2 CPU cores (tiny subsets, 1-2 epochs, 2 L-BFGS-B
  iterations); what CI's nbval runs.
* ``cpu``: the default of ``make book``; meaningful numbers on a 2-core laptop in <= 45 min:
  F1 at the paper's scale on full MNIST (SB 256 vs LB 6000, 3 seeds, fixed epochs, bf16 autocast),
  C1 on a 10,000-image CIFAR-10 subset with LB = 10% of it, fewer sharpness solves.
* ``paper``: the full protocol (5 seeds, every network with data, train until the loss ceases to
  improve), for a GPU.

Every chapter reads its knobs from ``get(profile)``; what a profile skips it says in the chapter.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import train


@dataclass(frozen=True)
class NetPlan:
    """How one network is trained for the gap / sharpness / landscape chapters."""
    seeds: tuple[int, ...]
    sb_epochs: int
    lb_epochs: int
    stop: str = "epochs"
    train_subset: int | None = None
    test_subset: int | None = None
    precision: str = "fp32"
    checkpoints: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    nets: dict[str, NetPlan]
    # Metric 2.1 (Tables 3-4) and Hessian eigenvalues
    sharpness_iters: int = 10
    sharpness_eps: tuple[float, ...] = (1e-3, 5e-4)
    sharpness_subset: int | None = None      # None: the full training set
    sharpness_seeds: int | None = None       # solve for the first k seeds (None: all)
    subspace_dim: int = 100
    subspace_seeds: int | None = None
    hessian_k: int = 5
    hessian_subset: int | None = 10000
    hutchinson_samples: int = 20
    # parametric plots (Figs. 3 and 7)
    alpha_points: int = 25
    landscape_subset: int | None = None
    # Section 3 and Appendix E (knobs read by lbsm.experiments; see each chapter)
    small_batches: dict = field(default_factory=dict)
    remedies: dict = field(default_factory=dict)

    def net(self, name: str) -> NetPlan:
        if name not in self.nets:
            raise ValueError(f"profile {self.name!r} does not train {name}; it trains "
                             f"{', '.join(self.nets)}")
        return self.nets[name]

    def trial(self, net: str, seed: int, **overrides) -> tuple[train.TrainConfig, train.TrainConfig]:
        """The SB and LB configs of one trial (same seed, hence the same x0)."""
        plan = self.net(net)
        lb = train.lb_batch(net, plan.train_subset)
        common = dict(seed=seed, stop=plan.stop, train_subset=plan.train_subset,
                      test_subset=plan.test_subset, precision=plan.precision,
                      checkpoints=plan.checkpoints, **overrides)
        return (train.TrainConfig(net, train.SB_BATCH, epochs=plan.sb_epochs, **common),
                train.TrainConfig(net, lb, epochs=plan.lb_epochs, **common))

    def trials(self, net: str, **overrides) -> list[tuple[train.TrainConfig, train.TrainConfig]]:
        return [self.trial(net, s, **overrides) for s in self.net(net).seeds]


PROFILES = {
    "smoke": Profile(
        "smoke", "seconds per chapter: tiny subsets, 1-2 epochs, 2 L-BFGS-B iterations",
        nets={"F1": NetPlan(seeds=(0, 1), sb_epochs=2, lb_epochs=2, train_subset=2000, test_subset=1000),
              "C1": NetPlan(seeds=(0,), sb_epochs=1, lb_epochs=1, train_subset=500, test_subset=500)},
        sharpness_iters=2, sharpness_subset=1000, subspace_dim=10, hessian_k=2,
        hessian_subset=500, hutchinson_samples=4, alpha_points=7, landscape_subset=1000),
    "cpu": Profile(
        "cpu", "2-core laptop, <= 45 min: F1 full MNIST (3 seeds, 20 SB / 60 LB epochs, bf16); "
               "C1 on 10,000 CIFAR-10 images (1 seed)",
        nets={"F1": NetPlan(seeds=(0, 1, 2), sb_epochs=20, lb_epochs=60, precision="bf16"),
              "C1": NetPlan(seeds=(0,), sb_epochs=10, lb_epochs=20, train_subset=10000,
                            precision="bf16")},
        sharpness_seeds=None, subspace_seeds=1, hessian_subset=10000, landscape_subset=None),
    "paper": Profile(
        "paper", "the full protocol: 5 seeds, every network with data, until the loss ceases to improve",
        nets={n: NetPlan(seeds=(0, 1, 2, 3, 4), sb_epochs=200, lb_epochs=200, stop="plateau")
              for n in ("F1", "F2", "C1", "C2", "C3", "C4")},
        hessian_subset=None),
}


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def replace(profile: Profile, **changes) -> Profile:
    """A profile with some knobs changed (for a papermill override)."""
    return dataclasses.replace(profile, **changes)
