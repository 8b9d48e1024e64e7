"""The cost model of what the rest needs (``lbsm.analyses.performance``, ``lbsm.pipeline.costs``, ``lbsm.report.costs``):
FLOPs counted by PyTorch, summed per network over the work a profile plans, and hours at a rate,
checked on cases small enough to count by hand."""
import dataclasses

import pytest
import torch

from lbsm.analyses import performance
from lbsm.core import models
from lbsm.core.constants import TRAIN_SIZES
from lbsm.experiments import profiles
from lbsm.experiments.specs import Remedies, SmallBatches
from lbsm.pipeline.chunks import SHARPNESS_EVALS
from lbsm.pipeline import costs as model
from lbsm.report import costs, verdicts


def test_flops_of_a_linear_layer_by_hand():
    # y = W x + b, W 5 x 10: 50 multiply-adds = 100 FLOPs forward; backward only the weights'
    # gradient (no input gradient is taken): 100 more
    lin = torch.nn.Linear(10, 5)
    assert performance.flops_per_example(lin, (10,), train=False) == 100
    assert performance.flops_per_example(lin, (10,), train=True) == 200


def test_run_solve_curve_and_hours_by_hand():
    # 3 epochs of 2 passes over 1000 examples at 200 FLOPs, and an evaluation of 1200 at 100
    assert performance.run_flops(200, 100, 1000, 1200, epochs=3, passes=2) == 3 * (400_000 + 120_000)
    assert performance.solve_flops(200, 1000, evaluations=12) == 2_400_000
    assert performance.curve_flops(100, 1200, points=25) == 3_000_000
    assert performance.hours(3.6e15, 1e12) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        performance.hours(1.0, 0.0)
    assert performance.step_passes("conservative", 3) == 3
    assert (performance.step_passes("adversarial"), performance.step_passes("stability"),
            performance.step_passes("adam")) == (3, 2, 1)


def test_c1_costs_what_the_counter_says():
    # issue 25's count: 186.8 MFLOP per training image, 9.34 TFLOP per CIFAR-10 epoch, 65.6 MFLOP
    # per evaluated image
    m = models.build("C1", 0)
    train = performance.flops_per_example(m, (3, 32, 32), train=True)
    assert train / 1e6 == pytest.approx(186.8, abs=0.05)
    assert train * TRAIN_SIZES["cifar10"] / 1e12 == pytest.approx(9.34, abs=0.01)
    assert performance.flops_per_example(m, (3, 32, 32), train=False) / 1e6 == pytest.approx(65.6, abs=0.05)


def test_a_network_costs_its_runs_solves_and_curves():
    """One F1 trial of 3 fixed epochs, no sections: 2 runs, Tables 3 and 4 at two eps for both
    minimizers (8 solves), two curves of 5 points; the total is their sum, the hours that total at
    the rates, the command the chapters that hold them."""
    P = dataclasses.replace(profiles.get("paper"), name="paper",
                            nets={"F1": profiles.NetPlan(seeds=(0,), sb_epochs=3, lb_epochs=3)},
                            small_batches=SmallBatches(), remedies=Remedies(), alpha_points=5)
    f = model.flops(P, "F1")
    assert (len(f["runs"]), f["solves"], f["curves"]) == (2, 8, 2)
    t = performance.flops_per_example(models.build("F1", 0), (784,), True)
    e = performance.flops_per_example(models.build("F1", 0), (784,), False)
    assert f["train"] == pytest.approx(2 * 3 * (t * 60000 + e * 70000))
    assert f["sharpness"] == pytest.approx(8 * SHARPNESS_EVALS * t * 60000)
    assert f["curve_flops"] == pytest.approx(2 * 5 * e * 70000)
    rates = {"rates": {"F1": {"flop_per_s": 1e10}}}
    row = model.cost_row(P, "F1", rates)
    assert row["H100 GPU-h"] == pytest.approx(f["total"] / model.GPU_RATE / 3600)
    assert row["CPU core-h here"] == pytest.approx(f["total"] / 1e10 / 3600)
    assert row["command"] == "python -m lbsm compute gap interpolation sharpness --profile paper --nets F1"


def test_the_table_has_a_row_per_network_that_did_not_run_with_its_reason_and_command():
    rows = [verdicts.row("Table 2", "F1", "inconclusive", "gap +0.1"),
            verdicts.row("Table 2", "F2", "not run", "needs data: TIMIT"),
            verdicts.row("Table 3", "F2", "not run", "needs data: TIMIT")]
    rates = {"rates": {n: {"flop_per_s": 3e10} for n in models.NETWORKS}}
    t = costs.cost_table(rows, rates=rates, ready={"mnist": True, "cifar10": True, "cifar100": False,
                                                  "timit": False})
    assert list(t.net) == ["F2"] and t.iloc[0]["paper panels"] == 2
    assert t.iloc[0]["why not run"] == "needs data: TIMIT"
    assert t.iloc[0].command.startswith("python -m lbsm data check timit && python -m lbsm compute gap")
    sentence = costs.rest_sentences(t)[0]
    assert "TIMIT is licensed" in sentence and "GPU-hours on one H100" in sentence


def test_the_recorded_cpu_rates_carry_their_provenance():
    rates = model.read_rates()
    assert {"measured", "command", "threads", "cpu", "torch", "commit"} <= set(rates)
    assert set(rates["rates"]) == set(models.NETWORKS)
    assert all(v["flop_per_s"] > 1e8 for v in rates["rates"].values())
    text = costs.assumptions(rates)
    assert rates["measured"] in text and model.GPU_RATE_SOURCE in text and model.MEASURE in text
