"""C1 on this CPU: training and evaluation throughput as a share of a large fp32 GEMM measured in
the same process at the same thread count, and of the nominal fp32 peak; each speed candidate
against the path before it, in the same run.

    python benchmarks/bench_c1.py [--threads N] [--rounds 3] [--no-lb] [--compile]

* FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on ``lbsm.core.models.build("C1")``
  (convolutions and matmuls; BatchNorm, ReLU, pooling and ADAM's element-wise work are not FLOPs
  here): 186.8 MFLOP per training image (forward and backward; the first convolution's input
  needs no gradient), 65.6 MFLOP per evaluated image. The script asserts both.
* Training: ``lbsm.train.protocol.train_epoch`` (the trainer itself: a permutation, minibatches
  sliced from resident data, one fp32 ADAM step each) on random pixels, at B = 256 (SB) and
  B = 5000 (LB). Evaluation: ``lbsm.train.protocol.evaluate`` at B = 5000 with the BatchNorm
  policy ``batch``, the per-epoch metrics' and the parametric plot's forward passes.
* Variants, timed in turn (A B C A B C ...: a drift of the machine moves them alike), medians:
  ``lbsm`` (channels-last, freed memory kept: ``lbsm.core.memory``), ``before`` (channels-last,
  glibc's allocator defaults: the path before ``lbsm.core.memory``), ``nchw`` (contiguous layout,
  memory kept), for evaluation also ``inference_mode`` and ``eval batch 1000`` (per-image speed
  of smaller batches: not adoptable, BatchNorm's batch statistics make 5000 part of the protocol),
  and with ``--compile`` ``torch.compile`` (its compile time counted against a 20-epoch run).
* GEMM: a 4096^2 fp32 ``torch.mm``, timed before and after the C1 measurements (median), at the
  same thread count. Nominal peak: FLOP per cycle of the microarchitecture x the clock
  /proc/cpuinfo reports x threads (see ``nominal_peak``).
* Contention: what other processes kept busy meanwhile (/proc/stat), written beside the numbers.

Writes ``benchmarks/results/bench_c1-<threads>t[-compile].json`` (``benchmarks/table.py`` makes README's
table from it).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchresults import Contention, contention_words, write
from lbsm.core import memory, models
from lbsm.core.constants import EVAL_BATCH, SB_BATCH
from lbsm.train import protocol as train

TRAIN_FLOP, EVAL_FLOP = 186.8e6, 65.6e6  # per image, as counted on lbsm's C1 (asserted below)
N_TRAIN, N_TEST, LB = 50_000, 10_000, 5000
EPOCHS_OFFICIAL = 20  # the official code's parametric-plot runs: 20 epochs at B = 256 and 5000


def flops_per_image() -> tuple[float, float]:
    """(training, evaluation) FLOPs per image of lbsm's C1, counted by PyTorch."""
    m, b = models.build("C1", seed=0), 16
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.rand(b, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (b,))
    cfg = train.TrainConfig("C1", b)
    with FlopCounterMode(display=False) as fc:
        train.adam_step(m, opt, x, y, cfg)
    tr = fc.get_total_flops() / b
    with FlopCounterMode(display=False) as fc, torch.no_grad(), models.evaluation(m):
        m(x)
    ev = fc.get_total_flops() / b
    assert round(tr / 1e5) == round(TRAIN_FLOP / 1e5), f"{tr / 1e6:.2f} MFLOP per training image"
    assert round(ev / 1e5) == round(EVAL_FLOP / 1e5), f"{ev / 1e6:.2f} MFLOP per evaluated image"
    return tr, ev


class Timer:
    """Wall seconds and this process's CPU seconds of a block: on a shared machine the wall time
    counts the time the scheduler gave other processes, the CPU time (per thread) much less."""

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.t0, time.process_time() - self.c0


def gemm_rates(threads: int, n: int = 4096, reps: int = 3) -> list[tuple[float, float]]:
    """(by wall time, by CPU time per thread) FLOP/s of ``reps`` fp32 n x n matrix products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    out = []
    for _ in range(reps):
        with Timer() as t:
            torch.mm(a, b)
        out.append((2 * n ** 3 / t.wall, 2 * n ** 3 / (t.cpu / threads)))
    return out


def cpuinfo() -> dict:
    out = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            if not k.strip():
                break  # the first processor's block
            out.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    return out


def nominal_peak(threads: int) -> dict:
    """fp32 FLOP/s this many cores can issue at the clock /proc/cpuinfo reports, where the
    microarchitecture is known: AMD Zen 2, 3 and 4 (family 0x17 from model 0x30, family 0x19) have
    two 256-bit FMA pipes per core, 2 x 8 lanes x 2 FLOP = 32 FLOP per cycle (Zen 4 runs AVX-512
    as two 256-bit halves: the same). Under a hypervisor "cpu MHz" is the base (TSC) clock;
    boost clocks can run above it, so a measured rate can exceed this."""
    info = cpuinfo()
    try:
        family, model, mhz = int(info["cpu family"]), int(info["model"]), float(info["cpu MHz"])
    except (KeyError, ValueError):
        return {"gflops": None, "how": "not derived: /proc/cpuinfo lacks family, model or clock"}
    amd = info.get("vendor_id") == "AuthenticAMD"
    if amd and (family == 0x19 or (family == 0x17 and model >= 0x30)):
        per_cycle = 32
        uarch = "Zen 3/4" if family == 0x19 else "Zen 2"
    else:
        return {"gflops": None, "how": f"not derived: FLOP/cycle unknown for family {family} model {model}"}
    return {"gflops": per_cycle * mhz / 1e3 * threads, "flop_per_cycle": per_cycle, "mhz": mhz,
            "how": f"{uarch} (family {family:#x} model {model:#x}): {per_cycle} fp32 FLOP/cycle/core "
                   f"(two 256-bit FMA pipes) x {mhz:.0f} MHz (/proc/cpuinfo) x {threads} threads"}


class Variant:
    """One way of running C1: its own model and ADAM from the same x0 and its memory layout (the
    allocator setting is its worker process's); ``train(batch, steps)`` and ``evaluate(n)`` time."""

    def __init__(self, layout=torch.channels_last, compiled=False):
        self.layout = layout
        self.model = models.build("C1", seed=0).to(memory_format=layout)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.forward = torch.compile(self.model) if compiled else self.model
        self.epoch = 0

    def data(self, n: int):
        g = torch.Generator().manual_seed(n)
        return (torch.rand(n, 3, 32, 32, generator=g).contiguous(memory_format=self.layout),
                torch.randint(0, 10, (n,), generator=g))

    def train(self, batch: int, steps: int) -> Timer:
        x, y = self.data(batch * steps)
        cfg = train.TrainConfig("C1", batch)
        forward = self.forward

        def compiled_step(model, opt, xb, yb, cfg):
            return train.closing._adam(model, opt, xb, yb, cfg, forward)
        step = train.adam_step if forward is self.model else compiled_step
        self.epoch += 1
        with Timer() as t:
            train.train_epoch(self.model, self.opt, step, x, y, cfg, self.epoch)
        return t

    def evaluate(self, n: int, batch: int = EVAL_BATCH, inference_mode: bool = False) -> Timer:
        x, y = self.data(n)
        with torch.inference_mode() if inference_mode else torch.no_grad():
            with Timer() as t:
                train.evaluate(self.model, x, y, batch, "batch")
        return t


def worker(conn, kept: bool, threads: int) -> None:
    """A process of its own per allocator setting (a heap is process state: toggling it inside one
    process would let one variant's frees set up the other's heap): builds the variants, then
    runs what the parent asks, (name, method, args) -> (wall, CPU) seconds, until None."""
    torch.set_num_threads(threads)
    if kept:
        memory.keep_freed_memory()
    variants = {}
    while (msg := conn.recv()) is not None:
        name, method, args = msg
        if method == "gemm":
            conn.send(gemm_rates(threads))
            continue
        if method == "max_rss_mb":  # the process's peak resident memory (Linux: KiB)
            import resource
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            continue
        if name not in variants:
            layout = torch.contiguous_format if name == "nchw" else torch.channels_last
            variants[name] = Variant(layout=layout, compiled=name == "torch.compile")
        t = getattr(variants[name], method)(*args)
        conn.send((t.wall, t.cpu))


class Workers:
    """The ``kept`` (lbsm's path) and ``default`` (glibc's defaults) processes."""

    def __init__(self, threads: int):
        import multiprocessing as mp
        ctx, self.procs, self.conns = mp.get_context("spawn"), [], {}
        for kept in (True, False):
            here, there = ctx.Pipe()
            p = ctx.Process(target=worker, args=(there, kept, threads), daemon=True)
            p.start()
            self.procs.append(p)
            self.conns[kept] = here

    def ask(self, kept: bool, *msg):
        self.conns[kept].send(msg)
        return self.conns[kept].recv()

    def close(self):
        for c in self.conns.values():
            c.send(None)
        for p in self.procs:
            p.join()


def interleaved(fns: dict, rounds: int, threads: int, warm: tuple = ()) -> dict:
    """{name: (median wall seconds, median CPU seconds per thread)} of ``rounds`` calls of each
    fn, in turn, after one untimed call of each in ``warm`` (oneDNN primitives, the heap)."""
    for k in warm:
        fns[k]()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            wall, cpu = fn()
            times[k].append((wall, cpu / threads))
            print(f"  {k}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for k, v in times.items()}


def rates(seconds: dict, images: int, flop: float, gemm: dict, peak: dict) -> dict:
    """Per variant: images/s and GFLOP/s by wall and by CPU time, and shares of the GEMM rate
    (wall to wall, CPU to CPU) and of the nominal peak (by CPU time: the share of the cycles the
    process ran)."""
    out = {}
    for k, (wall, cpu) in seconds.items():
        r = {"images_per_s_wall": images / wall, "images_per_s_cpu": images / cpu,
             "gflops_wall": images * flop / wall / 1e9, "gflops_cpu": images * flop / cpu / 1e9}
        r["of_gemm_wall"] = r["gflops_wall"] / gemm["wall"]
        r["of_gemm_cpu"] = r["gflops_cpu"] / gemm["cpu"]
        if peak["gflops"]:
            r["of_peak_cpu"] = r["gflops_cpu"] / peak["gflops"]
        out[k] = r
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of each B = 256 variant")
    ap.add_argument("--steps", type=int, default=3, help="B = 256 steps per round")
    ap.add_argument("--eval-rounds", type=int, default=2, help="timed rounds of each evaluation variant")
    ap.add_argument("--no-lb", action="store_true", help="skip training at B = 5000 (about 1 min)")
    ap.add_argument("--compile", action="store_true", help="also torch.compile at B = 256 (about 1 min)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    contention = Contention()
    flop_tr, flop_ev = flops_per_image()
    w = Workers(a.threads)
    gemm = w.ask(True, None, "gemm", ())
    peak = nominal_peak(a.threads)
    print(f"{a.threads} threads; GEMM {statistics.median(x for x, _ in gemm) / 1e9:.1f} GFLOP/s; "
          f"peak {peak['how']}")
    where = {"lbsm": True, "before": False, "nchw": True, "torch.compile": True}

    def call(name, method, *args):
        return lambda: w.ask(where[name], name, method, args)
    print(f"training at B = {SB_BATCH}, {a.steps} steps a round")
    fns = {k: call(k, "train", SB_BATCH, a.steps) for k in ("lbsm", "before", "nchw")}
    compile_s = None
    if a.compile:
        compile_s = call("torch.compile", "train", SB_BATCH, 1)()[0]
        fns["torch.compile"] = call("torch.compile", "train", SB_BATCH, a.steps)
    warm = tuple(k for k in fns if k != "torch.compile")
    sb = interleaved(fns, a.rounds, a.threads, warm)

    print(f"evaluation of {LB} images")
    ev = interleaved({"lbsm": call("lbsm", "evaluate", LB), "before": call("before", "evaluate", LB),
                      "inference_mode": call("lbsm", "evaluate", LB, EVAL_BATCH, True),
                      "eval batch 1000": call("lbsm", "evaluate", LB, 1000)},
                     a.eval_rounds, a.threads, ("lbsm", "before"))
    lb = {}
    if not a.no_lb:
        print(f"training at B = {LB}, one step each")
        lb = interleaved({k: call(k, "train", LB, 1) for k in ("lbsm", "before")}, 1, a.threads,
                         ("lbsm", "before"))
    gemm += w.ask(True, None, "gemm", ())
    max_rss = {"lbsm": w.ask(True, None, "max_rss_mb", ()), "before": w.ask(False, None, "max_rss_mb", ())}
    w.close()
    g = {"wall": statistics.median(w for w, _ in gemm) / 1e9, "cpu": statistics.median(c for _, c in gemm) / 1e9}

    data = {"threads": a.threads, "flop_per_train_image": flop_tr, "flop_per_eval_image": flop_ev,
            "gemm_n": 4096, "gemm_gflops": g,
            "gemm_samples_gflops": [[w / 1e9, c / 1e9] for w, c in gemm],
            "max_rss_mb": max_rss, "nominal_peak": peak, "steps_per_round": a.steps, "rounds": a.rounds, "eval_rounds": a.eval_rounds,
            "seconds": {"train_b256": sb, "eval_b5000": ev, "train_b5000": lb},
            "train_b256": rates(sb, SB_BATCH * a.steps, flop_tr, g, peak),
            "eval_b5000": rates(ev, LB, flop_ev, g, peak),
            "train_b5000": rates(lb, LB, flop_tr, g, peak)}
    # an epoch of the trainer: 50,000 training images at B = 256, then the per-epoch metrics (the
    # training and test sets evaluated at B = 5000); by wall time here and now, and by CPU time
    # (what the same threads would take with the cores to themselves)
    data["epoch_seconds"] = {}
    for k in ("lbsm", "before", "nchw"):
        e = {}
        for clock in ("wall", "cpu"):
            tr, evr = data["train_b256"][k][f"images_per_s_{clock}"], data["eval_b5000"].get(k, data["eval_b5000"]["lbsm"])[f"images_per_s_{clock}"]
            e[f"train_b256_{clock}"] = N_TRAIN / tr
            e[f"total_b256_{clock}"] = N_TRAIN / tr + (N_TRAIN + N_TEST) / evr
            if k in lb:
                e[f"total_b5000_{clock}"] = N_TRAIN / data["train_b5000"][k][f"images_per_s_{clock}"] + (N_TRAIN + N_TEST) / evr
        data["epoch_seconds"][k] = e
    if compile_s is not None:
        saved = (sb["lbsm"][0] - sb["torch.compile"][0]) * N_TRAIN / (SB_BATCH * a.steps)  # per epoch
        data["compile"] = {"first_step_seconds": compile_s, "saved_per_epoch_seconds": saved,
                           "pays_within_20_epochs": saved * EPOCHS_OFFICIAL > compile_s}
    contention = contention.result()

    t = f"{a.threads} thread{'s' if a.threads > 1 else ''}"
    tr, ev_, ep = data["train_b256"], data["eval_b5000"], data["epoch_seconds"]
    rows = [
        {"what": "C1 FLOPs per training image (forward + backward, counted)", "value": flop_tr / 1e6, "unit": "MFLOP"},
        {"what": "C1 FLOPs per evaluated image (counted)", "value": flop_ev / 1e6, "unit": "MFLOP"},
        {"what": f"fp32 GEMM 4096^2 ({t}; by CPU time)", "value": g["cpu"], "unit": "GFLOP/s"},
        {"what": f"C1 training, B = 256, fp32 ({t}; by CPU time)", "value": tr["lbsm"]["gflops_cpu"], "unit": "GFLOP/s"},
        {"what": f"C1 training, B = 256: share of the GEMM rate ({t})", "value": 100 * tr["lbsm"]["of_gemm_cpu"], "unit": "%"},
        {"what": f"C1 evaluation, B = 5000 ({t}; by CPU time)", "value": ev_["lbsm"]["gflops_cpu"], "unit": "GFLOP/s"},
        {"what": f"C1 evaluation, B = 5000: share of the GEMM rate ({t})", "value": 100 * ev_["lbsm"]["of_gemm_cpu"], "unit": "%"},
        {"what": f"C1 B = 256, freed memory kept vs glibc's defaults ({t}; speed-up)", "value": tr["lbsm"]["images_per_s_cpu"] / tr["before"]["images_per_s_cpu"], "unit": "x"},
        {"what": f"C1 B = 256, channels-last vs contiguous ({t}; speed-up)", "value": tr["lbsm"]["images_per_s_cpu"] / tr["nchw"]["images_per_s_cpu"], "unit": "x"},
        {"what": f"C1 evaluation, freed memory kept vs glibc's defaults ({t}; speed-up)", "value": ev_["lbsm"]["images_per_s_cpu"] / ev_["before"]["images_per_s_cpu"], "unit": "x"},
        {"what": f"C1 evaluation, inference_mode vs no_grad ({t}; speed-up)", "value": ev_["inference_mode"]["images_per_s_cpu"] / ev_["lbsm"]["images_per_s_cpu"], "unit": "x"},
        {"what": f"C1 evaluation per image, batch 1000 vs 5000 ({t}; speed-up, changes BatchNorm's numbers)", "value": ev_["eval batch 1000"]["images_per_s_cpu"] / ev_["lbsm"]["images_per_s_cpu"], "unit": "x"},
        {"what": f"C1 epoch at B = 256 with its metrics ({t}; by CPU time)", "value": ep["lbsm"]["total_b256_cpu"], "unit": "s"},
        {"what": f"the same with glibc's allocator defaults ({t}; by CPU time)", "value": ep["before"]["total_b256_cpu"], "unit": "s"}]
    rows.append({"what": f"peak memory of the process, kept vs glibc's defaults ({t})",
                 "value": max_rss["lbsm"] / max_rss["before"], "unit": "x"})
    if peak["gflops"]:
        rows.insert(3, {"what": f"C1 training, B = 256: share of the nominal fp32 peak ({t})",
                        "value": 100 * tr["lbsm"]["of_peak_cpu"], "unit": "%"})
    if lb:
        rows.insert(3, {"what": f"C1 training, B = 5000, fp32 ({t}; by CPU time)", "value": data["train_b5000"]["lbsm"]["gflops_cpu"], "unit": "GFLOP/s"})

    print(f"peak memory (MB): {max_rss}")
    print(f"\nGEMM {g['wall']:.1f} GFLOP/s by wall time, {g['cpu']:.1f} by CPU time; "
          f"{contention_words(contention)}, steal {contention.get('steal_cores', '?')}")
    for name in ("train_b256", "eval_b5000", "train_b5000"):
        for k, r in data[name].items():
            print(f"{name:11} {k:16} {r['gflops_wall']:6.1f} GFLOP/s wall ({100 * r['of_gemm_wall']:4.1f}% of GEMM) "
                  f"{r['gflops_cpu']:6.1f} by CPU ({100 * r['of_gemm_cpu']:4.1f}% of GEMM"
                  + (f", {100 * r['of_peak_cpu']:4.1f}% of peak)" if "of_peak_cpu" in r else ")"))
    for k, e in data["epoch_seconds"].items():
        print(f"epoch ({k}): " + ", ".join(f"{n} {x:.0f} s" for n, x in e.items()))
    if "compile" in data:
        print(f"torch.compile: {data['compile']}")
    if compile_s is not None:
        rows.append({"what": f"torch.compile at B = 256: compile seconds ({t})", "value": compile_s, "unit": "s"})
        rows.append({"what": f"torch.compile at B = 256 vs eager ({t}; speed-up by CPU time)",
                     "value": tr["torch.compile"]["images_per_s_cpu"] / tr["lbsm"]["images_per_s_cpu"], "unit": "x"})
    write(f"bench_c1-{a.threads}t" + ("-compile" if a.compile else ""), rows, data, contention, a.threads)


if __name__ == "__main__":
    main()
