"""A chapter's papermill parameters applied to a profile: every name checked, every value checked.

``override("cpu", seeds=3, sharpness_iters=30)`` is the ``cpu`` profile with those changes.
``None`` means "as the profile says"; a name that is neither a :class:`NetPlan` field (applied to
every network), a :class:`Profile` field, ``nets`` nor ``seeds`` is an error that names the known
ones, so ``-p precison bf16`` cannot silently do nothing.
"""
from __future__ import annotations

import dataclasses

from ..core import machine, models, validate
from ..core.constants import BN_PATH_POLICIES, STOPS
from . import profiles

NETPLAN_FIELDS = {f.name for f in dataclasses.fields(profiles.NetPlan)}
PROFILE_FIELDS = {f.name for f in dataclasses.fields(profiles.Profile)} - {
    "name", "description", "nets", "small_batches", "remedies", "sensitivity", "beyond"}
PARAMETERS = ("profile", "nets", "seeds", *sorted((NETPLAN_FIELDS | PROFILE_FIELDS) - {"seeds"}))
# how each parameter is checked where it enters
POSITIVE = {"sb_epochs", "lb_epochs", "sharpness_iters", "subspace_dim", "hessian_k",
            "hutchinson_samples"}
SUBSETS = {"train_subset", "test_subset", "sharpness_subset", "hessian_subset",
           "landscape_subset", "sharpness_seeds", "subspace_seeds"}
CHOICES = {"stop": STOPS, "landscape_bn": BN_PATH_POLICIES, "precision": machine.PRECISIONS,
           "sharpness_start": ("sign", "zero")}


def override(profile: str, nets=None, seeds=None, **changes) -> profiles.Profile:
    """The profile named ``profile`` with a chapter's papermill parameters applied.

    ``nets``: a list (or comma string) of networks to keep (networks not in the profile get the
    paper profile's plan); ``seeds``: an int (the first k seeds) or a list; any NetPlan field
    (``sb_epochs``, ``train_subset``, ...) applies to every network; any other Profile field
    (``sharpness_iters``, ``alpha_points``, ...) to the profile.
    """
    P = profiles.get(profile)
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - NETPLAN_FIELDS - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}; the parameters are "
                         f"{', '.join(PARAMETERS)}")
    changes = {k: check(k, v) for k, v in changes.items()}
    plans = dict(P.nets)
    if nets is not None:
        names = [n.strip() for n in nets.split(",")] if isinstance(nets, str) else list(nets)
        full = profiles.get("paper").nets
        plans = {n: plans.get(n) or full[models.check_net(n)] for n in names}
    net_changes = {k: v for k, v in changes.items() if k in NETPLAN_FIELDS and k != "seeds"}
    for n, plan in plans.items():
        s = plan.seeds if seeds is None else check_seeds(seeds)
        plans[n] = dataclasses.replace(plan, seeds=s, **net_changes)
    return dataclasses.replace(P, nets=plans, **{k: v for k, v in changes.items() if k in PROFILE_FIELDS})


def check(name: str, value):
    """One parameter's value, checked (ValueError naming it and the fix)."""
    if name in POSITIVE:
        return validate.positive_int(name, value)
    if name in SUBSETS:
        return validate.optional_subset(name, value)
    if name == "alpha_points":
        return validate.at_least(name, value, 2)
    if name in CHOICES:
        return validate.choice(name, value, CHOICES[name])
    if name == "min_delta":  # the plateau rule's threshold: 0 (any decrease improves) or more
        return validate.non_negative_float(name, value)
    return value


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds``: an int k >= 1 (seeds 0..k-1) or a list of distinct non-negative ints."""
    if isinstance(seeds, (list, tuple)):
        out = tuple(validate.non_negative_int("seeds", s) for s in seeds)
        if not out or len(set(out)) != len(out):
            raise ValueError(f"seeds = {list(seeds)}: give a non-empty list of distinct seeds, "
                             "e.g. [0, 1, 2], or an int k for seeds 0..k-1")
        return out
    try:
        return tuple(range(validate.positive_int("seeds", seeds)))
    except ValueError:
        raise ValueError(f"seeds = {seeds!r}: give an int k >= 1 (seeds 0..k-1) or a list of "
                         "seeds such as [0, 1, 2]") from None
