"""What machine a result was computed on, and the arithmetic it trains in there.

Precision is a protocol choice, never a silent default. The paper trained in fp32, and so does
every profile: ``"fp32"`` is true single precision, also on a GPU (TF32 tensor-core matmuls and
convolutions, which PyTorch enables for cuDNN by default, are switched off). ``"bf16"`` (autocast,
any device) and ``"tf32"`` (CUDA only) are options a profile or a user may name for speed; the
precision is part of a run's store key, and every caption names it. bf16 is fast only where the
hardware has it: measured on an AMD EPYC Zen 3 (AVX2, no native bf16) PyTorch *emulates* bf16
autocast: F1 at B = 256 took 536 ms per step in bf16 against 22 ms in fp32 (24x), C1 10x.
``native_bf16`` says where it is native (CUDA, Intel AMX, AVX512-BF16).
"""
from __future__ import annotations

import contextlib
import functools
import platform
from pathlib import Path

import torch

from .source import git_commit  # noqa: F401  (importable from here as before)

PRECISIONS = ("fp32", "bf16", "tf32")  # the first is the paper's and every default
# CPU flags (``/proc/cpuinfo``) that change speed or numerics of training here
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict:
    """Model name and the relevant flags of this CPU (``/proc/cpuinfo``; empty elsewhere)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {"cpu": name, "cpu_flags": [f for f in CPU_FLAGS if f in flags]}


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` runs bf16 matmuls natively (not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return any(f in cpu_info()["cpu_flags"] for f in NATIVE_BF16_FLAGS)


def check_precision(precision: str, device: torch.device | str) -> str:
    """``precision`` if it is one of ``PRECISIONS`` and ``device`` can run it (TF32 is a CUDA
    tensor-core mode); else a ValueError naming the value and the fix."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "tf32" and torch.device(device).type != "cuda":
        raise ValueError(f"precision 'tf32' needs a CUDA device, not {device}; use 'fp32' (the "
                         "paper's) or 'bf16'")
    return precision


@contextlib.contextmanager
def arithmetic(precision: str, device: torch.device | str):
    """The arithmetic of training and its per-epoch evaluation: bf16 autocast for ``"bf16"``;
    for ``"fp32"`` and ``"tf32"`` on CUDA, TF32 matmuls and convolutions off / on (restored
    afterwards); nothing else on a CPU."""
    device = torch.device(device)
    check_precision(precision, device)
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
        return
    if device.type != "cuda":
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def device_name(device: torch.device | str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` or ``"cpu (2 threads)"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def provenance(device: torch.device | str) -> dict:
    """Where a result was computed: device and its model, CPU flags, torch version, commit."""
    device = torch.device(device)
    info = {"device": device_name(device), "torch": torch.__version__, "commit": git_commit(),
            **cpu_info()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
