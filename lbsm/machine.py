"""What machine a result was computed on, and the precision it trains in there.

``precision="auto"`` (the default of every profile) resolves at run time: bf16 autocast on CUDA
devices that support it and on CPUs that execute bf16 natively (Intel AMX or AVX512-BF16), fp32
everywhere else. Measured on an AMD EPYC Zen 3 (AVX2, no native bf16) PyTorch *emulates* bf16
autocast: F1 at B = 256 took 536 ms per step in bf16 against 22 ms in fp32 (24x), C1 10x. A run's
store key keeps ``"auto"`` so a published result serves readers on every CPU; the precision it
actually ran in is recorded in its metadata (and captions).
"""
from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
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


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"bf16"`` where bf16 is native on ``device``, else ``"fp32"``; others as given."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def device_name(device: torch.device | str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` or ``"cpu (2 threads)"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def git_commit() -> str:
    """The short commit of the checkout, with "-dirty" when the package itself (``lbsm/``) has
    uncommitted changes: executed notebooks and results do not count, the code does."""
    here = Path(__file__).parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=here, timeout=5)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        changed = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True,
                                 text=True, cwd=here, timeout=5).stdout.strip()
        return commit + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device | str) -> dict:
    """Where a result was computed: device and its model, CPU flags, torch version, commit."""
    device = torch.device(device)
    info = {"device": device_name(device), "torch": torch.__version__, "commit": git_commit(),
            **cpu_info()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
