"""The paper's six networks (Table 1, Appendix B) and the BatchNorm evaluation policy.

Decisions where the paper is silent or disagrees with the official Keras code
(github.com/keskarnitish/large-batch-training, ``network_zoo.py``):

* Layer order is Linear/Conv -> BatchNorm -> ReLU (-> Dropout), as in the official code; the
  paper says only "batch-normalized". Every Linear/Conv keeps its bias (Keras default).
* Initialization: Glorot-uniform weights and zero biases (the Keras 1 default behind the paper's
  "uniformly distributed random starting points"); BatchNorm gamma = 1, beta = 0.
* BatchNorm uses PyTorch's eps = 1e-5 and momentum = 0.1 for its running statistics. The
  official code never uses running statistics (``BatchNormalization(mode=2)`` normalizes with the
  evaluated batch's own statistics at test time too), so they only matter for the ``running``
  evaluation policy.
* C1/C3: the paper writes ``2 x [64, 5, 5, 2]-MaxPool(3)``; the code has stride-1 'same' 5x5
  convolutions, each followed by a 3x3 max-pool of stride 2 ('same'). We follow the code: it is
  the network that produced the published plots. Dropout 0.5 after the two dense layers (both).
* C2/C4: the paper says "as in B.3" (dropout only on the dense layer); the code adds dropout 0.3
  after the first convolution and 0.4 after every other convolution except the last of each
  block, and 0.5 before and after the 512-unit dense layer. We follow the code.
* Softmax is folded into the loss (models return logits).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

# network -> (data set, number of classes, input shape); Table 1
NETWORKS = {
    "F1": ("mnist", 10, (784,)),
    "F2": ("timit", 1973, (360,)),
    "C1": ("cifar10", 10, (3, 32, 32)),
    "C2": ("cifar10", 10, (3, 32, 32)),
    "C3": ("cifar100", 100, (3, 32, 32)),
    "C4": ("cifar100", 100, (3, 32, 32)),
}
from .constants import BN_EVAL_POLICIES  # noqa: E402 - defined once, in constants
CONV_NETS = tuple(k for k, (_, _, shape) in NETWORKS.items() if len(shape) == 3)


def check_net(net: str) -> str:
    if net not in NETWORKS:
        raise ValueError(f"unknown network {net!r}; choose one of {', '.join(NETWORKS)}")
    return net


def dense_bn_relu(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]


def conv_bn_relu(c_in: int, c_out: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.BatchNorm2d(c_out), nn.ReLU()]


def fully_connected(n_in: int, depth: int, width: int, n_out: int) -> nn.Sequential:
    """F1 (784 -> 5 x 512 -> 10) and F2 (360 -> 7 x 512 -> 1973), Appendix B.1-B.2."""
    layers = []
    for i in range(depth):
        layers += dense_bn_relu(n_in if i == 0 else width, width)
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def shallow_conv(n_out: int) -> nn.Sequential:
    """C1 / C3 (modified AlexNet), Appendix B.3 as the official ``shallownet``."""
    return nn.Sequential(
        *conv_bn_relu(3, 64, 5), nn.MaxPool2d(3, stride=2, padding=1),   # 32 -> 16
        *conv_bn_relu(64, 64, 5), nn.MaxPool2d(3, stride=2, padding=1),  # 16 -> 8
        nn.Flatten(),
        *dense_bn_relu(64 * 8 * 8, 384), nn.Dropout(0.5),
        *dense_bn_relu(384, 192), nn.Dropout(0.5),
        nn.Linear(192, n_out))


VGG_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def deep_conv(n_out: int) -> nn.Sequential:
    """C2 / C4 (modified VGG), Appendix B.4 as the official ``deepnet``."""
    layers, c_in = [], 3
    for b, block in enumerate(VGG_BLOCKS):
        for i, c_out in enumerate(block):
            layers += conv_bn_relu(c_in, c_out, 3)
            if i < len(block) - 1:  # no dropout after the last conv of a block (it is pooled)
                layers.append(nn.Dropout(0.3 if b == 0 and i == 0 else 0.4))
            c_in = c_out
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.5), *dense_bn_relu(512, 512),
                         nn.Dropout(0.5), nn.Linear(512, n_out))


def glorot_init_(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def build(net: str, seed: int | None = None) -> nn.Module:
    """A freshly initialized network; with ``seed`` its weights (the trial's x0) are reproducible."""
    _, k, shape = NETWORKS[check_net(net)]
    make = {"F1": lambda: fully_connected(784, 5, 512, k), "F2": lambda: fully_connected(360, 7, 512, k),
            "C1": lambda: shallow_conv(k), "C3": lambda: shallow_conv(k),
            "C2": lambda: deep_conv(k), "C4": lambda: deep_conv(k)}[net]
    with torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext():
        if seed is not None:
            torch.manual_seed(seed)
        model = glorot_init_(make())
    # conv weights channels-last like the image tensors (lbsm.core.data): same numbers' definition,
    # ~2x faster convolutions on a CPU; a no-op for the fully connected networks
    return model.to(memory_format=torch.channels_last) if net in CONV_NETS else model


def num_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm gamma and beta included, running statistics not)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextlib.contextmanager
def evaluation(model: nn.Module, bn: str = "batch"):
    """Evaluation mode under an explicit BatchNorm policy; dropout is always off.

    ``batch``: each evaluated batch is normalized with its own statistics, as Keras
    ``BatchNormalization(mode=2)`` in the official code (results then depend on the evaluation
    batch size: we use 5000 like the official scripts). Running statistics are left untouched.
    ``running``: PyTorch's usual eval mode (running statistics).

    On exit every submodule's ``training`` flag and every BatchNorm's ``track_running_stats`` are
    what they were on entry, also where they differed from the model's own (set by hand).
    """
    if bn not in BN_EVAL_POLICIES:
        raise ValueError(f"unknown BatchNorm policy {bn!r}; choose one of {', '.join(BN_EVAL_POLICIES)}")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    saved = []
    if bn == "batch":
        for m in batchnorms(model):
            # forward in train mode normalizes with batch statistics; without tracking, the running
            # buffers are neither read nor updated
            saved.append((m, m.track_running_stats))
            m.train()
            m.track_running_stats = False
    try:
        yield model
    finally:
        for m, track in saved:
            m.track_running_stats = track
        for m, was_training in modes:  # each flag as it was (model.train(x) would set them all to x)
            m.training = was_training
