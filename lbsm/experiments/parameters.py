"""A chapter's papermill parameters applied to a profile: every name checked, every value checked.

``override("cpu", seeds=3, sharpness_iters=30)`` is the ``cpu`` profile with those changes.
``None`` means "as the profile says"; a name that is neither a :class:`NetPlan` field (applied to
every network), a :class:`Profile` field, ``nets`` nor ``seeds`` is an error that names the known
ones, so ``-p precison bf16`` cannot silently do nothing.

Every parameter has a type and a range, checked before anything is built or computed: :func:`check`
refuses a value out of range naming the parameter, the value and what is allowed, and the checked
value must then have the type its field declares (as nanoGPT's configurator compares an override
with the default it replaces: ``checkpoints="false"`` is refused, not read as true). ``seeds`` is
bounded (``validate.SEEDS_MAX`` trials) before any tuple of seeds is built.
"""
from __future__ import annotations

import dataclasses
import math
import re

from ..core import catalog, machine, models, validate
from ..core.constants import BN_PATH_POLICIES, EPS, STOPS, TRAIN_SIZES
from . import profiles

NETPLAN_FIELDS = {f.name for f in dataclasses.fields(profiles.NetPlan)}
PROFILE_FIELDS = {f.name for f in dataclasses.fields(profiles.Profile)} - {
    "name", "description", "nets",
    "panel_protocol"} - catalog.knob_fields()  # panel_protocol: what the paper's panels were made
# with, a fact about the profile; the chapters' specs (lbsm.core.catalog): no knobs of their own
PARAMETERS = ("profile", "nets", "seeds", *sorted((NETPLAN_FIELDS | PROFILE_FIELDS) - {"seeds"}))
# how each parameter is checked where it enters
# counts >= 1 and their maxima (lbsm.core.validate)
POSITIVE = {"sb_epochs": validate.EPOCHS_MAX, "lb_epochs": validate.EPOCHS_MAX,
            "sharpness_iters": validate.ITERS_MAX, "subspace_dim": validate.SUBSPACE_MAX,
            "hessian_k": 1_000, "hutchinson_samples": 100_000}
SUBSETS = {"train_subset", "test_subset", "sharpness_subset", "hessian_subset",
           "landscape_subset"}
SEED_COUNTS = {"sharpness_seeds", "subspace_seeds", "iter_readings_seeds"}  # None (all) or the first k, 1 <= k <= SEEDS_MAX
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
    changes = {k: typed(k, check(k, v)) for k, v in changes.items()}
    seeds = None if seeds is None else check_seeds(seeds)
    plans = dict(P.nets)
    if nets is not None:
        plans = {n: plans.get(n) or profiles.get("paper").nets[n] for n in network_names("nets", nets)}
    net_changes = {k: v for k, v in changes.items() if k in NETPLAN_FIELDS and k != "seeds"}
    for n, plan in plans.items():
        if (k := net_changes.get("train_subset")) and k > TRAIN_SIZES[models.NETWORKS[n][0]]:
            raise ValueError(f"train_subset = {k}: {n}'s training set has "
                             f"{TRAIN_SIZES[models.NETWORKS[n][0]]} examples; pass at most that")
        plans[n] = dataclasses.replace(plan, seeds=plan.seeds if seeds is None else seeds, **net_changes)
    return dataclasses.replace(P, nets=plans, **{k: v for k, v in changes.items() if k in PROFILE_FIELDS})


def check(name: str, value):
    """One parameter's value, checked (ValueError naming it, the value, the range and the fix);
    a parameter without a check here is an error (tests/test_reliability.py lists them all)."""
    if name in POSITIVE:
        return validate.at_least(name, value, 1, POSITIVE[name])
    if name in SUBSETS:
        return validate.optional_subset(name, value)
    if name in SEED_COUNTS:
        return None if value is None else validate.at_least(name, value, 1, validate.SEEDS_MAX)
    if name == "alpha_points":
        return validate.at_least(name, value, 2, validate.POINTS_MAX)
    if field_types(name) == (bool,):  # a switch (checkpoints, cap_is_budget): its type is its range
        return validate.boolean(name, value)
    if name == "sharpness_eps":
        return check_eps(name, value)
    if name == "sharpness_iter_readings":
        return check_iter_readings(name, value)
    if name == "hessian_nets":
        return None if value is None else network_names(name, value)
    if name in CHOICES:
        return validate.choice(name, value, CHOICES[name])
    if name == "min_delta":  # the plateau rule's threshold: 0 (any decrease improves) or more
        return validate.non_negative_float(name, value)
    raise ValueError(f"parameter {name} has no check of its type and range; add one to "
                     "lbsm.experiments.parameters.check")


TYPES = {"int": int, "float": float, "str": str, "bool": bool, "tuple": tuple, "None": type(None)}


def field_types(name: str) -> tuple[type, ...] | None:
    """The types the NetPlan or Profile field ``name`` declares (``int | None``: int, NoneType);
    None where its annotation names another type."""
    field = next(f for cls in (profiles.NetPlan, profiles.Profile)
                 for f in dataclasses.fields(cls) if f.name == name)
    names = [re.sub(r"\[.*", "", t).strip() for t in re.split(r"\|(?![^\[]*\])", str(field.type))]
    return tuple(TYPES[t] for t in names) if all(t in TYPES for t in names) else None


def typed(name: str, value):
    """``value`` if its type is one its field declares (checked values are converted already:
    "10" to 10, a list of eps to a tuple), else ValueError naming both."""
    types = field_types(name)
    if types is not None and type(value) not in types:
        raise ValueError(f"{name} = {value!r} is a {type(value).__name__}; the parameter is "
                         f"{' or '.join(t.__name__ for t in types)}")
    return value


def check_eps(name: str, value) -> tuple[float, ...]:
    """Metric 2.1's box sizes: a number or a list of distinct ones, each in validate's range and
    one the sharpness chapter renders (the paper's ``EPS``: Tables 3 and 4 have no other columns)."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    # a list one longer than the paper's has a value with no column or a repeat: named below
    if not values or len(values) > len(EPS) + 1:
        raise ValueError(f"{name} = {value!r}: give one or more of the paper's eps "
                         f"{', '.join(f'{e:g}' for e in EPS)}")
    out = []
    for v in values:
        x = validate.sharpness_eps(name, v)
        paper = [e for e in EPS if math.isclose(x, e, rel_tol=1e-9)]
        if not paper:
            raise ValueError(f"{name} = {v!r}: the sharpness chapter renders the paper's eps only "
                             f"({', '.join(f'{e:g}' for e in EPS)}: Tables 3 and 4 have no column "
                             f"for another); compute Metric 2.1 at {x:g} with `python -m lbsm "
                             f"sharpness RUN --eps {x:g}`")
        out.append(paper[0])
    if len(set(out)) != len(out):
        raise ValueError(f"{name} = {value!r}: give each eps once")
    return tuple(out)


def check_iter_readings(name: str, value) -> tuple[int, ...]:
    """L-BFGS-B iteration counts to read Table 3 at: distinct counts, each 1..``ITERS_MAX``,
    in increasing order (() reads none)."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    out = tuple(sorted(validate.at_least(name, v, 1, validate.ITERS_MAX) for v in values))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} = {value!r}: give each iteration count once, e.g. [10, 30, 100]")
    return out


def network_names(name: str, value) -> tuple[str, ...]:
    """A list (or comma string) of distinct networks of the paper's Table 1."""
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else \
        list(value) if isinstance(value, (list, tuple)) else None
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{name} = {value!r}: give distinct networks of {', '.join(models.NETWORKS)}"
                         ", e.g. ['F1'] or 'F1,C1'")
    unknown = [n for n in names if n not in models.NETWORKS]
    if unknown:
        raise ValueError(f"{name}: unknown network(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(models.NETWORKS)}")
    return tuple(names)


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds``: an int k, 1 <= k <= ``SEEDS_MAX`` (seeds 0..k-1), or a list of at most
    ``SEEDS_MAX`` distinct seeds, each 0..``validate.SEED_MAX`` (the CLI's --seed range); the
    count is checked before any tuple is built."""
    limit = validate.SEEDS_MAX
    if isinstance(seeds, (list, tuple)):
        if len(seeds) > limit:
            raise ValueError(f"seeds: {len(seeds)} seeds given, at most {limit} are allowed; pass "
                             f"a shorter list (the paper: 5 trials)")
        out = tuple(validate.seed("seeds", s) for s in seeds)
        if not out or len(set(out)) != len(out):
            raise ValueError(f"seeds = {list(seeds)}: give a non-empty list of distinct seeds, "
                             "e.g. [0, 1, 2], or an int k for seeds 0..k-1")
        return out
    try:
        return tuple(range(validate.at_least("seeds", seeds, 1, limit)))
    except ValueError as exc:
        raise ValueError(f"seeds = {seeds!r}: give an int k between 1 and {limit} (seeds 0..k-1) "
                         f"or a list of seeds such as [0, 1, 2] ({exc})") from None
