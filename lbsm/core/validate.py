"""Checks of user-supplied values where they enter the package (command line, function arguments).

Every check returns the value, converted (``"10"`` -> ``10``), or raises ``ValueError`` with a
message that names the value, says what is allowed and how to fix it. ``name`` is how the user
wrote the value (``"--epochs"`` on the command line, ``"epochs"`` from Python).

Values that arrive stored rather than typed (a run in an archive brought home from a GPU window)
are checked the same way by :func:`run_values_problem`: every number is one training could write.
"""
from __future__ import annotations

import math
import operator
from pathlib import Path


def _int(name: str, value) -> int:
    """``value`` as an int: ints (not bools), numpy integers and strings of digits."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    elif not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise ValueError(f"{name} must be a whole number, got {value!r}")


def positive_int(name: str, value) -> int:
    """An integer >= 1 (epochs, iterations, subspace dimension, ...)."""
    return at_least(name, value, 1)


def non_negative_int(name: str, value) -> int:
    """An integer >= 0 (seeds)."""
    return at_least(name, value, 0)


def at_least(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """An integer >= ``minimum`` (and <= ``maximum`` when given)."""
    n = _int(name, value)
    if n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n}; "
                         f"pass a value of {minimum} or more")
    if maximum is not None and n > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {n}; "
                         f"pass a value between {minimum} and {maximum}")
    return n


# torch.manual_seed takes up to 2**64 - 1, and training derives per-epoch seeds from the run's
# (seed * 100003 + epoch); seeds below 2**32 keep every derived seed in range (and NumPy's too)
SEED_MAX = 2**32 - 1
EPOCHS_MAX = 100_000  # far above any protocol (the paper's longest runs take a few hundred)


def seed(name: str, value) -> int:
    """A random seed: an integer between 0 and ``SEED_MAX``."""
    return at_least(name, value, 0, SEED_MAX)


def epochs(name: str, value, minimum: int = 1) -> int:
    """A number of epochs between ``minimum`` and ``EPOCHS_MAX``."""
    return at_least(name, value, minimum, EPOCHS_MAX)


# the ranges of the knobs that have no natural bound of their own: each far above any protocol's
# value, low enough that a typo (an extra zero, a seed for a count) is refused before any compute
SEEDS_MAX = 100             # trials one call may ask for (the paper: 5)
ITERS_MAX = 10_000          # L-BFGS-B iterations of Metric 2.1 (the paper: 10)
SUBSPACE_MAX = 1_000        # random subspace dimension p (the paper: 100; A is n x p in memory)
POINTS_MAX = 1_001          # alphas of a parametric plot (the paper: 25)
WORKERS_MAX = 256           # Dask worker processes / threads per worker on one machine
# Metric 2.1's box |y_i| <= eps (|x_i| + 1): below EPS_MIN it vanishes in fp32 rounding (a weight
# moves by less than a few ulps, 2**-23 relative), above EPS_MAX it is no neighbourhood of x
EPS_MIN, EPS_MAX = 1e-6, 1e-1


def in_range(name: str, value, low: float, high: float) -> float:
    """A finite number between ``low`` and ``high`` (booleans and text that is no number refused)."""
    try:
        x = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and low <= x <= high):
        raise ValueError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}; "
                         "pass a value in that range")
    return x


def sharpness_eps(name: str, value) -> float:
    """Metric 2.1's box size: a number between ``EPS_MIN`` and ``EPS_MAX``."""
    x = finite_positive_float(name, value)  # nan, 0 and negative values: that message first
    try:
        return in_range(name, x, EPS_MIN, EPS_MAX)
    except ValueError as exc:
        raise ValueError(f"{exc} (below {EPS_MIN:g} the box eps (|x| + 1) is lost in fp32 rounding, "
                         f"above {EPS_MAX:g} it is no neighbourhood of the minimizer; the paper's "
                         "are 1e-3 and 5e-4)") from None


def boolean(name: str, value) -> bool:
    """True or False, nothing else (``"false"`` or 0 would be read the wrong way round)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}; pass True or False")
    return value


def optional_subset(name: str, value, available: int | None = None) -> int | None:
    """None (use every example) or a count N with 1 <= N <= ``available`` (when known)."""
    if value is None:
        return None
    n = _int(name, value)
    if n < 1 or (available is not None and n > available):
        allowed = (f"between 1 and {available} (the size of the set)" if available is not None
                   else ">= 1 (a number of examples)")
        raise ValueError(f"{name} must be {allowed}, got {n}; pass a count in that range, or leave "
                         "it out to use every example")
    return n


def finite_positive_float(name: str, value) -> float:
    """A finite float > 0 (rejects nan, inf, 0 and negative values)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}; "
                         "pass a positive number such as 1e-3")
    return x


def non_negative_float(name: str, value) -> float:
    """A finite float >= 0 (rejects nan, inf, booleans and negative values)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}; pass e.g. 0 or 1e-4")
    return x


def batch_size(value, n_train: int | None, name: str = "--batch-size") -> int:
    """A minibatch size between 1 and the number of training examples ``n_train`` (when known)."""
    b = positive_int(name, value)
    if n_train is not None and b > n_train:
        raise ValueError(f"{name} {b} is larger than the training set ({n_train} examples); "
                         f"use a batch size between 1 and {n_train} (the paper's large batch is "
                         f"10% of the training set: {max(1, n_train // 10)})")
    return b


def choice(name: str, value, choices) -> str:
    """One of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} {value!r} is not allowed; choose one of {', '.join(map(str, choices))}")
    return value


def device(value, name: str = "--device") -> str:
    """``cpu``, ``cuda`` or ``cuda:N``; CUDA only where torch sees a GPU (and N < device count)."""
    import torch  # lazily: the other checks need no torch
    text = str(value).strip()
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (kind == "cpu" and index) or \
            (kind == "cuda" and index and not index.isdigit()):
        raise ValueError(f"{name} {value!r} is not a device; choose cpu, cuda or cuda:N "
                         "(N: the GPU's index, from 0)")
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "this machine has no usable CUDA GPU")
            raise ValueError(f"{name} {text}: {why} (torch {torch.__version__}); use {name} cpu")
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise ValueError(f"{name} {text}: this machine has {count} CUDA device(s), "
                             f"cuda:0 to cuda:{count - 1}; pick one of those or {name} cpu")
    return text


def directory(name: str, value, must_exist: bool = False) -> str:
    """A directory path: not empty, not an existing file (and, with ``must_exist``, an existing
    folder). An empty value is an error, not the default folder (``--results ''`` would otherwise
    write into the published dataset)."""
    if not str(value).strip():
        raise ValueError(f"{name} is empty; pass a folder, or leave the option out for its default")
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {value}: is a file, not a directory; pass a directory")
    if must_exist and not path.is_dir():
        raise ValueError(f"{name} {value}: no such directory; pass an existing directory")
    return str(value)


def writable_file(name: str, value, suffix: str | None = None) -> str:
    """A file path whose folder exists and may be written (checked before a long computation, not
    after it); with ``suffix``, a name ending in it."""
    import os
    if not str(value).strip():
        raise ValueError(f"{name} is empty; pass a file name")
    path = Path(str(value)).expanduser()
    if suffix and not path.name.endswith(suffix):
        raise ValueError(f"{name} {value}: the name must end in {suffix}, e.g. chunk{suffix}")
    if path.is_dir():
        raise ValueError(f"{name} {value}: is a directory; pass a file name")
    if not path.parent.is_dir():
        raise ValueError(f"{name} {value}: the folder {path.parent} does not exist; create it first "
                         "or pass a path in an existing folder")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{name} {value}: not writable by this user; pass a path in a folder "
                         "you can write")
    if path.exists() and not path.is_file():
        raise ValueError(f"{name} {value}: not a regular file (a device, pipe or special file); "
                         "pass the path of a regular file")
    try:  # a folder that says it is writable but is not (/proc, /sys, a read-only mount)
        import tempfile
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ValueError(f"{name} {value}: no file can be created in {path.parent} "
                         f"({exc.strerror or exc}); pass a path in a folder you can write") from None
    return str(value)


def readable_file(name: str, value) -> str:
    """An existing, regular, readable, non-empty file (an input such as an archive to import):
    not a folder, device or pipe, nor a file of /proc that is readable but holds nothing."""
    import os
    path = Path(str(value)).expanduser()
    if not str(value).strip():
        raise ValueError(f"{name} is empty; pass a file name")
    if not path.exists():
        raise ValueError(f"{name} {value}: no such file; check the path")
    if not path.is_file():
        raise ValueError(f"{name} {value}: not a regular file (a folder, device or pipe); pass "
                         "the path of a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{name} {value}: not readable by this user; check its permissions")
    if path.stat().st_size == 0:
        raise ValueError(f"{name} {value}: the file is empty (0 bytes); copy it again")
    return str(value)



def clock_time(name: str, value) -> float:
    """``HH:MM`` (local time, today; tomorrow if already past) as a ``time.time()`` value."""
    import datetime
    try:
        t = datetime.datetime.strptime(str(value), "%H:%M").time()
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a time of day; give HH:MM, e.g. 10:30") from None
    now = datetime.datetime.now()
    at = datetime.datetime.combine(now.date(), t)
    if at < now:
        at += datetime.timedelta(days=1)
    return at.timestamp()


# --------------------------------------------------------------------------- a stored run's values
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
STOPPED_BY = ("plateau", "cap", "epochs", "diverged")


def _number(value) -> float:
    """A stored number as a float (an empty CSV cell is NaN); NaN for anything else."""
    if isinstance(value, bool) or value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def run_values_problem(config, meta, history: list[dict]) -> str | None:
    """What is implausible among the values a run stores (None: every value is possible), as
    "FILE: what" naming the value: an archive brought from elsewhere is checked with this before it
    is imported. ``config`` and ``meta``: the loaded config.json and meta.json; ``history``: the
    rows of history.csv (dicts). Accuracies lie in [0, 100], losses and seconds are finite and
    >= 0, counts are whole numbers in range (epochs_run at most the config's epochs), the config
    holds what the command line would accept, and the history has one row per epoch 0..epochs_run
    (only a diverged run's last row may hold a non-finite loss, the first none of a minibatch)."""
    from .constants import RUN_STATUSES, STOPS, TRAIN_SIZES
    if not isinstance(config, dict) or not isinstance(meta, dict):
        return "config.json / meta.json: not JSON objects"
    try:
        epochs_cap = epochs("epochs", config.get("epochs"), minimum=0)
        batch = positive_int("batch_size", config.get("batch_size"))
        seed("seed", config.get("seed"))
        subset = optional_subset("train_subset", config.get("train_subset"))
        optional_subset("test_subset", config.get("test_subset"))
        positive_int("eval_batch_size", config.get("eval_batch_size"))
        non_negative_int("patience", config.get("patience"))
        for k in ("lr", "adam_eps"):
            finite_positive_float(k, config.get(k))
        choice("stop", config.get("stop"), STOPS)
        if subset is not None and batch > subset:
            raise ValueError(f"batch_size {batch} is larger than train_subset {subset}")
    except ValueError as exc:
        return f"config.json: {exc}"
    try:
        choice("status", meta.get("status"), RUN_STATUSES)
        n = _int("epochs_run", meta.get("epochs_run"))
        if not 0 <= n <= epochs_cap:
            raise ValueError(f"epochs_run {n} is outside 0..{epochs_cap} (the config's epochs)")
        if "stopped_by" in meta:
            choice("stopped_by", meta["stopped_by"], STOPPED_BY)
        if "wall_seconds" in meta:
            non_negative_seconds("wall_seconds", meta["wall_seconds"])
        if "n_train" in meta:
            n_train, most = _int("n_train", meta["n_train"]), subset or max(TRAIN_SIZES.values())
            if not batch <= n_train <= most:
                raise ValueError(f"n_train {n_train} is outside {batch}..{most} (the batch size .. "
                                 f"{'train_subset' if subset else 'the largest training set'})")
        if "n_test" in meta:
            positive_int("n_test", meta["n_test"])
    except ValueError as exc:
        return f"meta.json: {exc}"
    return _history_problem(history, n, meta.get("status") == "diverged")


def non_negative_seconds(name: str, value) -> float:
    """A stored duration: a finite number of seconds >= 0."""
    x = _number(value)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return x


def _history_problem(rows: list[dict], epochs_run: int, diverged: bool) -> str | None:
    if not rows or any(c not in rows[0] for c in HISTORY_COLUMNS):
        return f"history.csv: it needs the columns {', '.join(HISTORY_COLUMNS)} and a row per epoch"
    if [_number(r["epoch"]) for r in rows] != list(range(epochs_run + 1)):
        return (f"history.csv: {len(rows)} rows, epochs {rows[0]['epoch']}..{rows[-1]['epoch']}; "
                f"meta.json says epochs_run {epochs_run}: it needs epochs 0..{epochs_run}, one row each")
    for i, r in enumerate(rows):
        free = diverged and i == len(rows) - 1  # the epoch a diverged run's loss became nan/inf
        for k in ("train_acc", "test_acc"):
            x = _number(r[k])
            if not (0 <= x <= 100 or (free and math.isnan(x))):
                return f"history.csv: {k} {r[k]!r} at epoch {i} is outside [0, 100] (a percentage)"
        for k in ("train_loss", "test_loss", "minibatch_loss", "seconds"):
            if k not in r or (k == "minibatch_loss" and i == 0):
                continue
            x = _number(r[k])
            if not (math.isfinite(x) and x >= 0) and not (free and k != "seconds" and not x < 0):
                return f"history.csv: {k} {r[k]!r} at epoch {i} is not a finite number >= 0"
    return None
