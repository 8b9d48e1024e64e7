"""Command line: ``python -m lbsm {compute,import,train,runs,data,sharpness,interpolate} --help``.

Every value is checked where it enters (``lbsm.core.validate``); a bad one is a one-line ``error: ...``
on stderr and exit status 2, never a traceback (``--debug`` shows it). Ctrl-C exits with 130.

The environment is read here, once (:func:`read_environment`: ``$LBSM_RESULTS``, ``$LBSM_WEIGHTS``,
``$LBSM_DATA``; ``lbsm.book`` reads ``$LBSM_CSV_DIR`` too, through the same function): each command
gets the folders as arguments (``--results``, ``--data-dir`` filled in by :func:`resolve`), and they
are the process's defaults while it runs (:func:`located`). No module below reads ``os.environ``
(tests/test_environment.py).

Start-up is part of every command's time: ``main`` adds the options of the one command it runs
(the others are listed by name), each command's options import only the modules whose choices they
offer, and the command itself (``lbsm.cli_commands``) imports what it uses when it runs. So
``--help`` imports no torch, and ``train`` of a stored run not the task graph, Metric 2.1 (scipy)
or the ensembles (tests/test_cli.py).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .cli_commands import RUN_COLUMNS  # noqa: F401 (lbsm.cli.RUN_COLUMNS: the columns of `runs`)
from .cli_commands import (STARTS, cmd_campaign, cmd_compute, cmd_cost, cmd_data, cmd_import, cmd_interpolate, cmd_runs,
                           cmd_sharpness, cmd_train)
from .core import memory, validate

#: the commands that train or evaluate networks: each keeps freed memory for its next minibatch
COMPUTING = ("train", "compute", "campaign", "sharpness", "interpolate", "cost")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to every option's help unless it says its default in words (or has
    none: required options, flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def checked(check, name: str, **kw):
    """An argparse ``type=`` that runs ``check(name, text, **kw)`` from ``lbsm.core.validate``."""
    def convert(text):
        try:
            return check(name, text, **kw)
        except ValueError as exc:  # argparse prefixes "argument NAME: " itself
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name} ")) from None
    convert.__name__ = check.__name__  # argparse names it in some messages
    return convert


def positive(name: str):
    return checked(validate.positive_int, name)


def count(name: str, maximum: int, minimum: int = 1):
    """An argparse ``type=``: an integer between ``minimum`` and ``maximum`` (lbsm.core.validate)."""
    return checked(validate.at_least, name, minimum=minimum, maximum=maximum)


def add_compute(c) -> None:
    from .experiments import profiles
    from .pipeline import compute  # for its lists of choices
    c.add_argument("chapters", nargs="+", metavar="CHAPTER",
                   type=checked(validate.choice, "chapter", choices=compute.CHAPTERS + ("all",)),
                   help=f"chapters ({', '.join(compute.CHAPTERS)}) or all")
    c.add_argument("--profile", choices=list(profiles.PROFILES), default="cpu",
                   help="how much of the protocol to run (lbsm.experiments.profiles)")
    c.add_argument("--nets", help="comma-separated networks to keep (default: the profile's)")
    c.add_argument("--executor", choices=compute.EXECUTORS, default="inprocess",
                   help="inprocess: this process; dask: a dask.distributed cluster")
    c.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. "
                                       "tcp://host:8786 (default: start a LocalCluster)")
    c.add_argument("--workers", type=count("--workers", validate.WORKERS_MAX),
                   help=f"LocalCluster worker processes, 1 to {validate.WORKERS_MAX} (default: one "
                        "per core)")
    c.add_argument("--threads-per-worker", type=count("--threads-per-worker", validate.WORKERS_MAX),
                   default=1,
                   help="torch threads in each Dask worker")
    c.add_argument("--budget", type=checked(validate.finite_positive_float, "--budget"),
                   help="seconds: compute only the missing work that fits, in lbsm.chunks.PRIORITY "
                        "order (the profile's, whatever CHAPTER says)")
    c.add_argument("--dry-run", action="store_true", help="print the plan with estimated times, "
                                                          "compute nothing")
    c.add_argument("--cost", nargs="+", metavar="NET@BATCH=SECONDS",
                   help="seconds per epoch instead of measuring them on this device, e.g. "
                        "C1@256=1.2 C1@5000=0.4")
    c.add_argument("--ensemble-speedup", type=checked(validate.finite_positive_float,
                                                      "--ensemble-speedup"), default=1.0,
                   help="per-model-epoch speedup of seeds trained together (plan estimate)")
    c.add_argument("--selftest", action="store_true",
                   help="first a seconds-long check of the device (ensemble vs single steps)")
    c.add_argument("--require-cuda", action="store_true", help="the self-test fails without CUDA")
    c.add_argument("--archive", help="write what this chunk added to the store (no weights) to "
                                     "this .tar.gz (at most 16 MiB)")
    c.set_defaults(func=cmd_compute)


def add_import(im) -> None:
    im.add_argument("archive", type=checked(validate.readable_file, "archive"),
                    help="the .tar.gz a GPU window brought back")
    im.set_defaults(func=cmd_import)


def add_campaign(c) -> None:
    from .pipeline.campaign import CAMPAIGNS
    c.add_argument("name", choices=list(CAMPAIGNS), help="the campaign (lbsm.pipeline.campaign)")
    c.add_argument("--staging", required=True, type=checked(validate.directory, "--staging"),
                   help="the staging store: results/ of a clean checkout of a committed commit "
                        "(git worktree add DIR HEAD); trials are computed there, then published")
    c.add_argument("--until", type=checked(validate.clock_time, "--until"),
                   help="HH:MM (local time): start no trial after it (a session's end)")
    c.add_argument("--commit", action="store_true",
                   help="git-commit the published store's folder after each trial")
    c.add_argument("--status", action="store_true", help="say how many trials are published and stop")
    c.set_defaults(func=cmd_campaign)


def add_train(t) -> None:
    from .core import models
    from .core import constants
    from .core.constants import STOPS
    from .core.machine import PRECISIONS as precisions
    t.add_argument("--net", required=True, choices=list(models.NETWORKS),
                   help="network of the paper's Table 1 (required)")
    t.add_argument("--batch-size", required=True, type=positive("--batch-size"),
                   help="minibatch size, 1 to the number of training examples (required)")
    t.add_argument("--seeds", nargs="+", type=checked(validate.seed, "--seeds"),
                   help="several trials (overrides --seed), e.g. --seeds 0 1 2 3 4")
    t.add_argument("--ensemble", action="store_true",
                   help="train the --seeds together in one vmapped step (lbsm.train.ensemble; the "
                        "default of `compute` on a GPU)")
    t.add_argument("--seed", type=checked(validate.seed, "--seed"), default=0,
                   help="trial: seeds the initial weights x0, the minibatch order and dropout")
    t.add_argument("--epochs", type=checked(validate.epochs, "--epochs"), default=100,
                   help="epochs (the maximum with --stop plateau)")
    t.add_argument("--stop", choices=STOPS, default="epochs",
                   help="epochs: train exactly --epochs; plateau: stop when the training loss "
                        "stops improving")
    t.add_argument("--precision", choices=precisions, default="fp32",
                   help="fp32: the paper's; bf16: autocast (fast only where the hardware has "
                        "native bf16); tf32: CUDA tensor cores")
    t.add_argument("--bn", choices=constants.BN_EVAL_POLICIES, default="batch",
                   help="BatchNorm policy of the per-epoch evaluation")
    t.add_argument("--train-subset", type=checked(validate.optional_subset, "--train-subset"),
                   help="use the first N training examples (default: all)")
    t.add_argument("--test-subset", type=checked(validate.optional_subset, "--test-subset"),
                   help="use the first N test examples (default: all)")
    t.add_argument("--checkpoints", action="store_true", help="keep the weights after every epoch")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)


def add_runs(r) -> None:
    r.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    r.add_argument("--verify", action="store_true",
                   help="check every run and analysis (schema, key, checksums) and MANIFEST.sha256; "
                        "exit 1 naming each file that fails or is not in the manifest")
    r.add_argument("--write-manifest", action="store_true",
                   help="seal runs written without meta_sha256, verify the store, and write "
                        "MANIFEST.sha256 (refused while anything fails)")
    r.set_defaults(func=cmd_runs)


def add_data(d) -> None:
    from .core import data as lbsm_data
    d.add_argument("action", choices=["check", "download", "stage", "split", "reassemble"], nargs="?",
                   default="check",
                   help="check: what is there and how to get the rest; download: from the official "
                        "URLs; stage: MNIST and CIFAR-10 from --shared, else download; split: "
                        "CIFAR-10's archive from --shared into parts of <= 45 MB in --parts; "
                        "reassemble: join and verify those parts from --parts, unpack them")
    d.add_argument("names", nargs="*", metavar="NAME",
                   type=checked(validate.choice, "data set", choices=lbsm_data.DATASETS),
                   help=f"data sets ({', '.join(lbsm_data.DATASETS)}) (default: all)")
    d.add_argument("--data-dir", type=checked(validate.directory, "--data-dir"),
                   help="data directory (default: $LBSM_DATA, else ~/.cache/lbsm)")
    d.add_argument("--shared", type=checked(validate.directory, "--shared", must_exist=True),
                   help="folder with local copies of the official files, for stage "
                        "(default: $LBSM_SHARED)")
    d.add_argument("--parts", default=".gpu-parts",
                   help="folder of the parts (split writes it, reassemble reads it)")
    d.set_defaults(func=cmd_data)


def add_sharpness(s) -> None:
    from .analyses import sharpness
    from .core import constants
    s.add_argument("run", help="run name or key prefix (see `runs`)")
    s.add_argument("--eps", type=checked(validate.sharpness_eps, "--eps"), default=1e-3,
                   help=f"box size epsilon, relative to |x| + 1, {validate.EPS_MIN:g} to "
                        f"{validate.EPS_MAX:g}")
    s.add_argument("--subspace", type=count("--subspace", validate.SUBSPACE_MAX),
                   help=f"dimension p of a random subspace, 1 to {validate.SUBSPACE_MAX} (default: "
                        "the full space)")
    s.add_argument("--subspace-kind", choices=sharpness.SUBSPACE_KINDS, default="gaussian",
                   help="distribution of the random A: gaussian (N(0,1) entries) or uniform "
                        "([0,1)); '-unit': columns scaled to unit length")
    s.add_argument("--iters", type=count("--iters", validate.ITERS_MAX),
                   default=constants.SHARPNESS_ITERS,
                   help=f"L-BFGS-B iterations, 1 to {validate.ITERS_MAX} (the paper: 10)")
    s.add_argument("--bn", choices=constants.BN_EVAL_POLICIES, default="batch",
                   help="BatchNorm policy when evaluating f")
    s.add_argument("--subset", type=checked(validate.optional_subset, "--subset"),
                   help="evaluate f on the first N of the run's training examples (default: all)")
    s.add_argument("--seed", type=checked(validate.seed, "--seed"), default=0,
                   help="seed of the random subspace")
    s.add_argument("--start", choices=STARTS, default="sign",
                   help="L-BFGS-B start: the box vertex along the gradient (sign) or y = 0 (zero)")
    s.set_defaults(func=cmd_sharpness)


def add_interpolate(i) -> None:
    from .analyses import landscape
    from .core import constants
    i.add_argument("sb_run", help="the small-batch run: name or key prefix (see `runs`)")
    i.add_argument("lb_run", help="the large-batch run: name or key prefix")
    i.add_argument("--kind", choices=landscape.KINDS, default="linear",
                   help="path from x_s (alpha 0) to x_l (alpha 1): linear (1 - a) x_s + a x_l, or "
                        "curvilinear sin(a pi/2) x_l + cos(a pi/2) x_s")
    i.add_argument("--points", type=count("--points", validate.POINTS_MAX, minimum=2), default=25,
                   help=f"number of alphas in [-1, 2], 2 to {validate.POINTS_MAX}")
    i.add_argument("--bn", choices=constants.BN_PATH_POLICIES, default="batch",
                   help="BatchNorm policy along the path")
    i.add_argument("--out", help="also write the table to this CSV file (default: print only)")
    i.set_defaults(func=cmd_interpolate)


def add_cost(c) -> None:
    from .experiments import profiles
    c.add_argument("--profile", choices=list(profiles.PROFILES), default="paper",
                   help="the profile whose work is costed, per network (lbsm.report.costs)")
    c.add_argument("--nets", help="comma-separated networks (default: the profile's)")
    c.add_argument("--measure", action="store_true",
                   help="first measure this CPU's training FLOP rate per network (a few steps on "
                        "random inputs, torch's threads) and record it with its provenance in "
                        "lbsm/measured/cpu_rates.json, which the book's cost table reads")
    c.set_defaults(func=cmd_cost)


#: name: (one line of help, the shared options it takes, the function that adds its own)
COMMANDS = {
    "compute": ("compute what chapters need (runs first, analyses after) into the results store; "
                "finished runs and analyses are loaded, not redone", ("results",), add_compute),
    "campaign": ("compute a campaign's trials one at a time into a staging store and publish each "
                 "whole (resumable; for the background)", ("results",), add_campaign),
    "import": ("merge an archive of `compute --archive` into the results store", ("results",),
               add_import),
    "train": ("train one run (or load it from the store)", ("results", "device"), add_train),
    "runs": ("list the runs in the results store", ("results",), add_runs),
    "data": ("check, download or stage the data files", (), add_data),
    "cost": ("the FLOPs and hours (one H100 at fp32; this CPU) of a profile's work per network, and "
             "the command that runs it", (), add_cost),
    "sharpness": ("Metric 2.1 of a stored run's minimizer", ("results", "device"), add_sharpness),
    "interpolate": ("parametric plot data of an SB/LB pair", ("results", "device"), add_interpolate),
}


def parser(commands=None) -> argparse.ArgumentParser:
    """The parser; ``commands``: those whose options it has (default: all). The others are there by
    name and help only, for the listing of ``--help`` (``main`` passes the one it runs: a command's
    options import the modules whose choices they offer)."""
    p = argparse.ArgumentParser(
        prog="python -m lbsm", formatter_class=HelpFormatter,
        description="Large-batch training and sharp minima (Keskar et al., ICLR 2017): train, list "
                    "and analyse runs. `python -m lbsm COMMAND --help` describes each command.")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error instead of a one-line message")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    results = argparse.ArgumentParser(add_help=False)
    results.add_argument("--results", type=checked(validate.directory, "--results"),
                         help="results store (default: $LBSM_RESULTS, else the checkout's published "
                              "results/)")
    results.add_argument("--allow-dirty", action="store_true",
                         help="compute into the published results/ from uncommitted code (an "
                              "experiment: its records say -dirty and the book marks them)")
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", type=checked(lambda name, v: validate.device(v, name), "--device"),
                        help="cpu, cuda or cuda:N (default: cuda if this machine has it, else cpu)")
    shared = {"results": results, "device": device}
    for name, (text, parents, add) in COMMANDS.items():
        full = commands is None or name in commands
        sp = sub.add_parser(name, parents=[shared[s] for s in parents] if full else [], help=text,
                            description=text, formatter_class=HelpFormatter)
        if full:
            add(sp)
    return p


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the options before it,
    --debug and --help, take no value)."""
    return next((w for w in argv if not w.startswith("-")), None)


def error_message(exc: BaseException) -> str:
    """One line for the user: the message of the errors that carry one, else the error's type."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    # lbsm.core's DataError and DamagedError by name: importing their modules to compare would
    # cost an error the start-up of torch and pandas (and they move between modules)
    own = any(c.__name__ in ("DataError", "DamagedError", "UncommittedCodeError") and c.__module__.startswith("lbsm.core.")
              for c in type(exc).__mro__)
    if (own or isinstance(exc, (ValueError, KeyError, OSError))) and text:
        return text
    return (f"{type(exc).__name__}: {text}".rstrip(": ") +
            " (run with `python -m lbsm --debug ...` to see the traceback)")


# the environment variables the package reads, here and nowhere else (lbsm.book calls this module's
# read_environment), and the field of Locations each fills
ENVIRONMENT = {"LBSM_RESULTS": "results", "LBSM_WEIGHTS": "weights", "LBSM_DATA": "data",
               "LBSM_CSV_DIR": "csv"}


@dataclass(frozen=True)
class Locations:
    """The folders a command or a chapter works in, read from the environment once: the results
    store (``$LBSM_RESULTS``) and its weights (``$LBSM_WEIGHTS``), the data directory
    (``$LBSM_DATA``), and where a chapter writes its CSVs (``$LBSM_CSV_DIR``). None: the variable
    is unset, and the package's own default applies (the checkout's ``results/``,
    ``RESULTS/weights``, ``~/.cache/lbsm``, ``book/csv``)."""
    results: Path | None = None
    weights: Path | None = None
    data: Path | None = None
    csv: Path | None = None


def read_environment(environ=None) -> Locations:
    """The environment, read once, checked: a folder variable that is set but empty is an error
    (falling back to the default folder would read one store or data directory and report on
    another), and so is one that names a file. ``$LBSM_CSV_DIR`` set but empty counts as unset."""
    environ = os.environ if environ is None else environ
    found = {}
    for var, field in ENVIRONMENT.items():
        value = environ.get(var)
        if value is None or (field == "csv" and not value.strip()):
            continue
        if not value.strip():
            raise ValueError(f"${var} is set but empty; unset it (`unset {var}`) or set it to a folder")
        path = Path(value).expanduser()
        if path.is_file():
            raise ValueError(f"${var} {value} is a file, not a folder; point it at a folder")
        found[field] = path
    return Locations(**found)


@contextlib.contextmanager
def located(where: Locations):
    """Make ``where``'s results store, weights folder and data directory this process's for a block
    (``lbsm.core.paths.choose``, ``lbsm.core.datadir.choose_data_dir``), then restore what was
    there: below the command line nothing reads the environment."""
    from .core import datadir, paths
    old = paths.choose(where.results, where.weights)
    old_data = datadir.choose_data_dir(where.data)
    try:
        yield where
    finally:
        paths.choose(**old)
        datadir.choose_data_dir(old_data)


def resolve(a, where: Locations) -> None:
    """Fill the parsed options that default to the environment with what it says, so each command
    passes them down as arguments: ``--results`` (``$LBSM_RESULTS``), ``weights``
    (``$LBSM_WEIGHTS``; no option) and ``--data-dir`` (``$LBSM_DATA``)."""
    if hasattr(a, "results"):
        a.results = a.results if a.results is not None else where.results
        a.weights = where.weights
    if hasattr(a, "data_dir"):
        a.data_dir = a.data_dir if a.data_dir is not None else where.data


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # known before parsing, so that it covers the parser too
    try:
        a = parser([command_of(argv)]).parse_args(argv)
        where = read_environment()  # the one read of the environment; passed down from here
        resolve(a, where)
        if command_of(argv) in COMPUTING:
            memory.keep_freed_memory()  # a pure performance setting (lbsm.core.memory)
        with located(where):
            return a.func(a)
    except BrokenPipeError:
        # the reader went away (`runs | head`): not an error; stdout is closed quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return 2
