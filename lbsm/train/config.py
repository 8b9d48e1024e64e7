"""What determines a training run: :class:`TrainConfig`, whose hash is the run's key in the results
store, and the paper's two batch sizes (SB = 256, LB = 10 % of the training set).

The key hashes every field, the training-code version (bump ``TRAIN_CODE_VERSION`` when a change
alters the numbers training produces) and, for a user-supplied data set (TIMIT features), the md5
of its files: a change to any of them makes another run, never a stale one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..core import data as lbsm_data
from ..core import models
from ..core import validate
from ..core.constants import BN_EVAL_POLICIES, EVAL_BATCH, LB_FRACTION, STOPS, TRAIN_SIZES
from ..core.machine import PRECISIONS
from ..core.records import config_key

TRAIN_CODE_VERSION = 3  # bump when a change alters the numbers training produces


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run; its hash is the run's key in the results store."""
    net: str
    batch_size: int
    seed: int = 0
    epochs: int = 100
    stop: str = "epochs"          # "epochs" | "plateau"
    patience: int = 5             # plateau rule: epochs without an improvement of ...
    min_delta: float = 1e-4       # ... more than this (absolute, in mean cross-entropy); the
                                  # adopted reading (profile cpu-v2, lbsm.experiments.readings) is 0
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    bn_eval: str = "batch"        # BatchNorm policy for the per-epoch metrics, see models.evaluation
    eval_batch_size: int = EVAL_BATCH
    precision: str = "fp32"       # "fp32" (the paper's) | "bf16" (autocast) | "tf32" (CUDA), for
                                  # training and its per-epoch evaluation; see lbsm.core.machine
    train_subset: int | None = None  # first N training examples (None: all)
    test_subset: int | None = None
    method: str = "adam"          # "adam" or a remedy from lbsm.remedies.METHODS
    method_args: dict = field(default_factory=dict)
    augment: bool = False         # lbsm.remedies.augment on every minibatch (conv nets)
    init: str | None = None       # "RUN@EPOCH": start from a stored run's epoch weights (warm start)
    checkpoints: bool = False     # keep the weights after every epoch (epochs/NNNN.pt)

    def __post_init__(self):
        models.check_net(self.net)
        if self.stop not in STOPS:
            raise ValueError(f"unknown stop rule {self.stop!r}; choose one of {', '.join(STOPS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.bn_eval not in BN_EVAL_POLICIES:
            raise ValueError(f"unknown BatchNorm policy {self.bn_eval!r}; choose one of "
                             f"{', '.join(BN_EVAL_POLICIES)}")
        validate.positive_int("batch_size", self.batch_size)
        validate.epochs("epochs", self.epochs, minimum=0)
        validate.seed("seed", self.seed)
        validate.optional_subset("train_subset", self.train_subset)
        validate.optional_subset("test_subset", self.test_subset)
        validate.positive_int("eval_batch_size", self.eval_batch_size)
        validate.finite_positive_float("lr", self.lr)
        validate.positive_int("patience", self.patience)
        # a float in the key whatever the caller passed (0 and 0.0 must be one run)
        object.__setattr__(self, "min_delta", validate.non_negative_float("min_delta", self.min_delta))
        object.__setattr__(self, "betas", tuple(self.betas))

    @property
    def dataset(self) -> str:
        return models.NETWORKS[self.net][0]

    def key_dict(self) -> dict:
        """What the key hashes: the config, the training-code version and, for a user-supplied
        data set (TIMIT features), the md5 of its files, so other features make other runs."""
        d = {**dataclasses.asdict(self), "train_code_version": TRAIN_CODE_VERSION}
        user_data = lbsm_data.fingerprint(self.dataset)
        return d if user_data is None else {**d, "data_md5": user_data}

    @property
    def key(self) -> str:
        return config_key(self.key_dict())

    @property
    def name(self) -> str:
        """The run's name in the store: ``<net>-<key>``."""
        return f"{self.net}-{self.key}"


def lb_batch(net: str, n_train: int | None = None) -> int:
    """LB = 10% of the training set (MNIST 6000, CIFAR 5000, TIMIT 72133)."""
    n = n_train or TRAIN_SIZES[models.NETWORKS[net][0]]
    return max(1, round(n * LB_FRACTION))
