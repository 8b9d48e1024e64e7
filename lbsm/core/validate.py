"""Checks of user-supplied values where they enter the package (command line, function arguments).

Every check returns the value, converted (``"10"`` -> ``10``), or raises ``ValueError`` with a
message that names the value, says what is allowed and how to fix it. ``name`` is how the user
wrote the value (``"--epochs"`` on the command line, ``"epochs"`` from Python).
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
