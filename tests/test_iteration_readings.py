"""Table 3 read off at other L-BFGS-B iteration counts: a long solve's trace is the shorter solves,
``reach`` measures how far an iterate got toward the box, and a serving store never computes."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from lbsm.analyses.sharpness import lbfgsb, maximize_in_box, reach
from lbsm.core.serving import NotStored, ServingStore
from lbsm.core.store import Store
from lbsm.experiments import parameters
from lbsm.pipeline import compute
from lbsm.report import iteration_readings, readings_verdicts

X = torch.tensor([0.3, 0.0, -1.0, 2.0, 0.7, -0.2], dtype=torch.float64)
W = torch.tensor([1.0, -2.0, 0.5, -0.1, 0.3, 1.5], dtype=torch.float64)


def near_minimizer(z):
    """f near a minimizer: a small gradient (1e-3 W) at X and unit curvature, so L-BFGS-B from
    y = 0 creeps toward the box (eps 0.1) instead of jumping to it."""
    d = z - X
    return 1e-3 * (W * d).sum().item() + 0.5 * (d * d).sum().item(), 1e-3 * W + d


def test_reach_at_the_centre_half_way_and_a_vertex():
    b = np.array([0.1, 0.2, 0.4])
    assert reach(np.zeros(3), b) == (0.0, 0.0)
    assert reach(b / 2, b) == (pytest.approx(0.5), 0.0)
    assert reach(-b, b) == (pytest.approx(1.0), 1.0)
    assert reach(np.array([0.1, 0.0, 0.0]), b) == (pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_the_callback_sees_every_iterate_and_changes_none():
    lb, ub = -np.ones(6), np.ones(6)

    def fun(y):
        f, g = near_minimizer(X + torch.from_numpy(y))
        return -f, -g.numpy()
    seen = []
    plain = lbfgsb(fun, lb, ub, maxiter=8)
    followed = lbfgsb(fun, lb, ub, maxiter=8, callback=seen.append)
    np.testing.assert_array_equal(plain.x, followed.x)
    assert len(seen) == followed.nit >= 3
    np.testing.assert_array_equal(seen[-1], followed.x)
    assert not np.array_equal(seen[0], seen[-1])  # copies, not the solver's own array


def test_a_long_solves_trace_is_each_shorter_solve():
    long = maximize_in_box(near_minimizer, X, 0.1, iters=12, start="zero")
    assert long.iterations >= 5  # (it may end sooner: at a vertex the projected gradient is 0)
    assert [t[0] for t in long.trace] == list(range(1, long.iterations + 1))
    for k in (1, 2, 3, 5):
        short = maximize_in_box(near_minimizer, X, 0.1, iters=k, start="zero")
        it, evals, fmax, mean_reach, on_face = long.trace[k - 1]
        assert (it, evals) == (short.iterations, short.evaluations)
        assert fmax == short.fmax
        assert (mean_reach, on_face) == reach(short.y, short.bound)
    assert long.trace[-1][2] == long.fmax
    # from y = 0 the first iterate is still deep inside the box ...
    assert long.trace[0][3] < 0.5
    # ... from the sign vertex the solve starts at the box's maximizer here and ends there, with
    # no iteration and so an empty trace (read at its end)
    vertex = maximize_in_box(near_minimizer, X, 0.1, iters=12, start="sign")
    assert vertex.iterations == 0 and vertex.trace == []
    assert reach(vertex.y, vertex.bound) == (pytest.approx(1.0), 1.0)


@pytest.mark.parametrize("value,fix", [([10, 10], "once"), ([0, 10], "integer >= 1, got 0"),
                                       (["ten"], "ten")])
def test_iteration_readings_are_checked(value, fix):
    with pytest.raises(ValueError, match=fix):
        parameters.override("smoke", sharpness_iter_readings=value)


def test_iteration_readings_are_sorted():
    P = parameters.override("smoke", sharpness_iter_readings=[30, 10])
    assert P.sharpness_iter_readings == (10, 30)


TINY = dict(nets="F1", seeds=2, sb_epochs=1, lb_epochs=1, train_subset=1000, test_subset=500,
            sharpness_iters=2, sharpness_subset=300, precision="fp32", sharpness_seeds=None,
            sharpness_iter_readings=(1, 2, 4), iter_readings_seeds=1)


@pytest.fixture(scope="module")
def computed(tmp_path_factory, mnist):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = Store(tmp_path_factory.mktemp("iters") / "r")
        return compute.compute(["sharpness"], "smoke", store=store, **TINY)["sharpness"], store
    finally:
        torch.set_num_threads(n)


def test_the_read_off_at_the_tables_count_is_table_3(computed):
    C, _ = computed
    it, t3 = C.iterations, C.table3
    assert sorted(it.iters.unique()) == [1, 2, 4] and it.seed.unique().tolist() == [0]
    at2 = it[it.iters == 2].set_index(["seed", "regime", "eps"]).value
    ref = t3.set_index(["seed", "regime", "eps"]).value.loc[at2.index]
    np.testing.assert_allclose(at2.to_numpy(), ref.to_numpy(), rtol=1e-12)
    # a longer solve never finds a lower maximum than its own first iterations
    v = it.pivot_table(index=["regime", "eps"], columns="iters", values="value")
    assert (v[4] >= v[2]).all() and (v[2] >= v[1]).all()
    assert it.reach.between(0, 1).all() and it.on_face.between(0, 1).all()
    # the solver's own stop message belongs to the reading at the solve's end only
    early = it[it.iterations < it.groupby(["regime", "eps"]).iterations.transform("max")]
    assert len(early) and early.message.str.startswith("read off the solve's trace at iteration").all()
    last = it[it.iters == 4]
    assert not last.message.str.startswith("read off").any()


def test_each_count_is_judged_by_table_3s_rule(computed):
    C, _ = computed
    rows = iteration_readings.verdicts(C.iterations)
    assert sorted(rows) == [1, 2, 4]
    assert all(r["artifact"] == "Table 3" and r["verdict"] == "inconclusive" for r in rows.values())
    t = iteration_readings.table(C.iterations)
    assert len(t) == 3 * C.iterations.eps.nunique() and (t.trials == 1).all()
    assert "after 2 iterations" in iteration_readings.sentence(C.iterations, adopted=2)
    said = iteration_readings.verdict_sentence(C.iterations, adopted=2)
    assert "which the paper fixes at 2: on the first 1 adopted trials it is inconclusive at 1, " \
           "inconclusive at 2, inconclusive at 4 iterations" in said
    reach = t[t.iterations == 2]["LB reach"]
    assert f"a median {reach.iloc[0]:.2f} (eps " in said
    assert iteration_readings.verdict_sentence(C.iterations.iloc[:0]) == ""


def test_the_readings_table_gains_a_row_per_other_count(computed):
    C, _ = computed
    rv = readings_verdicts.table({"sharpness": C}, {})
    labels = [i for i in rv.index if i.startswith("Metric 2.1")]
    assert [lab.split(":")[1].split(" L-BFGS")[0].strip() for lab in labels] == ["1", "4"]


def test_the_stall_reading_adds_a_row_only_where_a_solve_stalled(computed):
    """One LB solve of the longest count made to stop on no reduction of f: the readings table
    gains the stall reading's row at that count alone, with the seeds it used, and the sentence
    says how many solves stalled and what each rule gives."""
    C, _ = computed
    frame = C.iterations.copy()
    assert iteration_readings.stalls(frame).empty
    assert "changes nothing" in iteration_readings.stall_sentence(frame)
    i = frame.index[(frame.iters == 4) & (frame.regime == "lb")][0]
    frame.loc[i, ["iterations", "message"]] = [3, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"]
    assert list(iteration_readings.stalls(frame).index) == [i]
    adopted = iteration_readings.verdicts(frame)[4]
    stall = iteration_readings.verdicts(frame, stall_converged=True)[4]
    assert "stopped before 4 iterations" in adopted["evidence"]
    assert "stopped before" not in stall["evidence"]
    said = iteration_readings.stall_sentence(frame)
    assert said.startswith("Under the stall reading, 1 of ") and "(1 LB at eps" in said
    assert "after 3-3 iterations" in said
    rv = readings_verdicts.table({"sharpness": dataclasses.replace(C, parts={**C.parts, "iterations": frame})}, {})
    stalled = [lab for lab in rv.index if iteration_readings.STALL_READING in lab]
    assert len(stalled) == 1 and stalled[0].startswith("Metric 2.1: 4 L-BFGS-B iterations")
    assert rv.attrs["seeds"][stalled[0]] == "0"


def test_a_serving_store_never_computes(computed, tmp_path):
    C, store = computed
    served = ServingStore.of(store)
    P = C.profile
    # what the store holds is served ...
    again = compute.compute(["sharpness"], P, store=served)["sharpness"]
    pd.testing.assert_frame_equal(again.table3, C.table3)
    # ... a count the store was never solved for is left out of the readings, not computed
    longer = compute.compute(["sharpness"], parameters.override(P.name, **{**TINY, "sharpness_iter_readings": (8,)}),
                             store=served)["sharpness"]
    assert longer.iterations.empty
    # ... and any other analysis it lacks is refused, naming the store
    with pytest.raises(NotStored, match="only serves what it holds"):
        served.analysis("sharpness", {"run": "F1-none"}, lambda: pytest.fail("computed"), version=1)
