"""Where a store lives: its results root and its weights cache, from an argument, the folders the
entry point chose for the process, or the checkout.

ROOT is the ``root`` argument, else the results folder the entry point chose (:func:`choose`), else
the repository's ``results/`` (the published dataset) when the package runs from a checkout, else
``./results``. WEIGHTS is the ``weights`` argument, else the weights folder the entry point chose,
else ``ROOT/weights`` (ignored by git). Nothing here reads the environment: the command line
(``lbsm.cli``) and the book (``lbsm.book``: its runner and every chapter's first cell) read
``$LBSM_RESULTS`` and ``$LBSM_WEIGHTS`` once, check them (a variable set but empty, or naming a file,
is an error naming it) and pass them here. A folder given as an empty string, or a path that is a
file, is an error naming it, never a silent fallback.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# the results root and weights folder the entry point chose for this process (None: the defaults)
_CHOSEN: dict[str, Path | None] = {"results": None, "weights": None}


def _folder(value: str | os.PathLike | None, what: str) -> Path | None:
    if value is None:
        return None
    if not str(value).strip():
        raise ValueError(f"the {what} is an empty string; pass a folder or leave it out")
    return Path(value).expanduser()


def choose(results: str | os.PathLike | None = None,
           weights: str | os.PathLike | None = None) -> dict[str, Path | None]:
    """Make ``results`` and ``weights`` the default results root and weights folder of this
    process (None: no choice, the defaults of :func:`results_dir` and :func:`weights_root`); the
    entry points call it once, with what they read. Returns the choice it replaced, which
    ``choose(**old)`` restores."""
    old = dict(_CHOSEN)
    _CHOSEN.update(results=_folder(results, "results folder"), weights=_folder(weights, "weights folder"))
    return old


def chosen() -> dict[str, Path | None]:
    """The results root and weights folder the entry point chose (None where it chose none)."""
    return dict(_CHOSEN)


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """The results root: ``root``, the one the entry point chose, the checkout's ``results/``, or
    ``./results``."""
    if root is not None:
        if not str(root).strip():
            raise ValueError("the results folder is an empty string; pass a folder (--results DIR) "
                             "or leave it out for $LBSM_RESULTS / the published results/")
        path = Path(root).expanduser()
    elif _CHOSEN["results"] is not None:
        path = _CHOSEN["results"]
    elif (REPO / "pyproject.toml").is_file() and (REPO / "lbsm").is_dir():
        return REPO / "results"
    else:
        return Path("results")
    if path.exists() and not path.is_dir():
        raise ValueError(f"results folder {path} is a file, not a folder; point it at a results folder")
    return path


def weights_root(root: Path, weights: str | os.PathLike | None = None) -> Path:
    """The weights cache of the store at ``root``: ``weights``, the one the entry point chose, or
    ``root/weights``."""
    if weights is not None and not str(weights).strip():
        raise ValueError("the weights folder is an empty string; pass a folder or leave it out")
    w = Path(weights).expanduser() if weights is not None else _CHOSEN["weights"]
    path = w if w is not None else root / "weights"
    if path.exists() and not path.is_dir():
        raise ValueError(f"weights folder {path} is a file; point $LBSM_WEIGHTS at a folder")
    return path


def path_root(path: Path) -> Path:
    """The store root above a path under runs/ or analyses/ (for messages)."""
    for parent in Path(path).parents:
        if parent.name in ("runs", "analyses"):
            return parent.parent
    return Path(path).parent
