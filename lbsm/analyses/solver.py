"""The L-BFGS-B driver behind Metric 2.1 (``lbsm.analyses.sharpness.maximize_in_box``).

``lbfgsb`` is ``scipy.optimize.minimize(method="L-BFGS-B")`` with vectorized bounds: it drives
SciPy's own routine (``setulb``, reverse communication) as ``_minimize_lbfgsb`` does, so the
iterates are SciPy's. Every result says which path produced it (``result.path``: ``"setulb"``, the
fast path, or ``"minimize"``, the fallback); the fallback warns (``RuntimeWarning``) and says why.
The stopping tolerances (``TOLERANCES``) and the reading of L-BFGS-B's last message
(``stop_reason``) live here too.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import scipy
import scipy.optimize

# L-BFGS-B stopping tolerances: "none" runs every iteration asked for (the paper's "10 iterations"),
# "scipy" is scipy.optimize's defaults (a solve may stop at its start)
TOLERANCES = {"none": dict(ftol=0.0, gtol=0.0), "scipy": dict(ftol=2.220446049250313e-09, gtol=1e-5)}
# the private routine's signature the fast path is written for (SciPy >= 1.15)
SETULB_SIGNATURE = "setulb(m,x,l,u,nbd,f,g,factr,pgtol,wa,iwa,task,lsave,isave,dsave,maxls,ln_task)"
PATHS = ("setulb", "minimize")  # result.path: the fast path, the fallback


def fast_setulb() -> tuple[Callable | None, str]:
    """(SciPy's private ``setulb``, "") when its signature is ``SETULB_SIGNATURE``, else (None, why)."""
    try:
        from scipy.optimize import _lbfgsb
    except ImportError as exc:
        return None, f"scipy.optimize._lbfgsb cannot be imported ({exc})"
    setulb = getattr(_lbfgsb, "setulb", None)
    if setulb is None:
        return None, "scipy.optimize._lbfgsb has no setulb"
    if SETULB_SIGNATURE not in (getattr(setulb, "__doc__", None) or ""):
        return None, (f"scipy.optimize._lbfgsb.setulb (SciPy {scipy.__version__}) does not document "
                      f"the signature {SETULB_SIGNATURE}")
    return setulb, ""


def lbfgsb(fun_and_grad: Callable, lb: np.ndarray, ub: np.ndarray, maxiter: int,
           x0: np.ndarray | None = None, maxcor: int = 10, ftol: float = 2.220446049250313e-09,
           gtol: float = 1e-5, maxfun: int = 15000, maxls: int = 20,
           callback: Callable[[np.ndarray], None] | None = None) -> scipy.optimize.OptimizeResult:
    """``scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=(lb, ub))`` (x0 = 0 by
    default) with the same options, minus the wrapper's per-coordinate Python loops.

    SciPy's wrapper converts the bounds between representations element by element in Python
    (three loops over n): for F1 (n = 1.46M) that costs ~10 s of CPU per call, more than the three
    evaluations of f it would pay for, and ~100 s for C2 (n = 15M). We drive SciPy's own L-BFGS-B
    routine (``setulb``, reverse communication) with vectorized bounds instead, exactly as
    ``_minimize_lbfgsb`` does; ``tests/test_sharpness.py`` checks that both give the same iterates
    and that the fast path is the one it tested. If SciPy's private signature ever changes we fall
    back to ``scipy.optimize.minimize`` with a ``RuntimeWarning`` saying why. ``result.path`` is
    ``"setulb"`` (fast) or ``"minimize"`` (fallback).
    """
    n = len(lb)
    x = np.clip(np.zeros(n) if x0 is None else np.array(x0, np.float64), lb, ub)
    setulb, why = fast_setulb()
    if setulb is None:
        warnings.warn(f"lbfgsb falls back to scipy.optimize.minimize: {why}; the iterates are the "
                      "same, its per-coordinate bound loops cost ~10 s of CPU per call at n = 1.5M",
                      RuntimeWarning, stacklevel=2)
        res = scipy.optimize.minimize(fun_and_grad, x, jac=True, method="L-BFGS-B",
                                      bounds=scipy.optimize.Bounds(lb, ub),
                                      options=dict(maxiter=maxiter, maxcor=maxcor, ftol=ftol,
                                                   gtol=gtol, maxfun=maxfun, maxls=maxls),
                                      callback=None if callback is None else lambda xk: callback(np.copy(xk)))
        res.path = "minimize"
        return res
    m = maxcor
    low, up = np.asarray(lb, np.float64).copy(), np.asarray(ub, np.float64).copy()
    nbd = np.full(n, 2, np.int32)  # 2: both bounds finite (our box always is)
    f, g = np.array(0.0), np.zeros(n)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m)
    iwa, task, ln_task = np.zeros(3 * n, np.int32), np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29)
    nit = nfev = 0
    while True:
        setulb(m, x, low, up, nbd, f, g, ftol / np.finfo(float).eps, gtol, wa, iwa, task,
               lsave, isave, dsave, maxls, ln_task)
        if task[0] == 3:    # FG: evaluate at x
            fx, gx = fun_and_grad(x.copy())
            f, g = np.array(float(fx)), np.asarray(gx, np.float64)
            nfev += 1
        elif task[0] == 1:  # NEW_X: an iteration finished
            nit += 1
            if callback is not None:
                callback(x.copy())
            if nit >= maxiter:
                task[:] = (5, 504)
            elif nfev > maxfun:
                task[:] = (5, 502)
        else:
            break
    return scipy.optimize.OptimizeResult(x=x, fun=float(f), jac=g, nit=nit, nfev=nfev,
                                         success=task[0] == 4, status=int(task[0]),
                                         message=_task_message(int(task[0]), int(task[1])),
                                         path="setulb")


def tolerance_glue() -> dict:
    """SciPy's default L-BFGS-B tolerances as glue for the prose (``tol_ftol``, ``tol_gtol``)."""
    return {"tol_ftol": f"{TOLERANCES['scipy']['ftol']:.2g}", "tol_gtol": f"{TOLERANCES['scipy']['gtol']:g}"}


def _task_message(task: int, detail: int) -> str:
    """SciPy's words for setulb's (task, detail) codes, e.g. "STOP: TOTAL NO. OF ITERATIONS REACHED
    LIMIT"; the bare codes where SciPy does not name them."""
    try:
        from scipy.optimize._lbfgsb_py import status_messages, task_messages
        return f"{status_messages[task]}: {task_messages[detail]}".rstrip(": ")
    except (ImportError, KeyError):
        return f"task {task}/{detail}"


# why a solve ended, from L-BFGS-B's message: every iteration asked for, an exact first-order
# maximizer of the box (with tolerances off the projected gradient is exactly 0: no iteration can
# improve it), or something that stopped it early (a tolerance, a failed line search). "no
# reduction": only under the stall reading (``stall_converged``), a sensitivity, not the adopted rule
STOP_REASONS = ("iteration limit", "stationary", "stopped early", "no reduction")


def is_stall(message: str) -> bool:
    """L-BFGS-B's own convergence test on f fired: "CONVERGENCE: RELATIVE REDUCTION OF F <=
    FACTR*EPSMCH" (SciPy >= 1.15; "REL_REDUCTION_OF_F_<=_FACTR*EPSMCH" before). With factr = 0 it
    fires only when an iteration's line search changed f by nothing at double precision."""
    return "REDUCTION OF F" in message.upper().replace("_", " ")


def stop_reason(message: str, iterations: int, iters: int, tol: str = "none",
                stall_converged: bool = False) -> str:
    """One of ``STOP_REASONS`` for a solve that ran ``iterations`` of ``iters``. ``stall_converged``:
    the stall reading, under which a stop on L-BFGS-B's test of no reduction of f (``is_stall``)
    counts as converged ("no reduction") instead of "stopped early"."""
    if iterations >= iters:
        return "iteration limit"
    if tol == "none" and "PROJECTED GRADIENT <= PGTOL" in message:
        return "stationary"
    if stall_converged and is_stall(message):
        return "no reduction"
    return "stopped early"
