"""Table 2 under each reading of the stop rule, read off stored histories: the stopping epochs of
each reading on a hand-made loss history (known answers), and the verdict table on a hand-made
frame."""
import numpy as np
import pandas as pd
import pytest

from lbsm.experiments.stop_readings import READINGS, StopReading, stop_epoch
from lbsm.report import judgments

LOSSES = [1.0, 0.5, 0.4, 0.41, 0.39, 0.395, 0.396, 0.397, 0.398, 0.399, 0.3]  # epochs 1-11


def history(losses=LOSSES):
    return pd.DataFrame({"epoch": range(len(losses) + 1), "train_loss": [np.nan] + list(losses),
                         "test_acc": 90.0 + np.arange(len(losses) + 1), "train_acc": 99.0})


@pytest.mark.parametrize("reading, epoch", [
    (READINGS[1], 4),                         # Keras' patience 0: the first epoch without a new minimum (0.41 >= 0.4)
    (StopReading("adopted", 5, 0.0), 10),     # epochs 6-10 never go below epoch 5's 0.39
    (StopReading("absolute", 5, 0.02), 8),    # epochs 4-8 never beat 0.4 by more than 0.02
    (StopReading("best", None), 11)])         # the lowest training loss of the run
def test_each_reading_stops_where_its_rule_says(reading, epoch):
    assert stop_epoch(history(), reading) == epoch


def test_a_reading_that_would_run_longer_cannot_be_read_off():
    assert stop_epoch(history(LOSSES[:9]), StopReading("adopted", 5, 0.0)) is None
    assert stop_epoch(history([]), READINGS[0]) is None


def test_a_run_the_cap_ended_is_ended_by_the_cap_under_every_reading():
    """LB's loss falls every epoch up to the cap: no reading fires, all stop at the cap; a run the
    plateau rule stopped cannot say where a rule that runs longer would have stopped it."""
    from lbsm.experiments.stop_readings import read_off
    from lbsm.train.config import TrainConfig
    falling = history([1.0 / (k + 1) for k in range(12)])
    cfg = TrainConfig("F1", 6000, epochs=12, stop="plateau", min_delta=0.0)
    for r in READINGS[:3]:
        assert read_off(falling, cfg, "cap", r) == 12
    assert read_off(falling, cfg, "cap", READINGS[3]) == 12       # the best loss is the last
    short = history(LOSSES[:9])
    assert read_off(short, TrainConfig("F1", 256, stop="plateau"), "plateau", READINGS[0]) is None
    assert read_off(short, cfg, "plateau", READINGS[0]) == 9       # its own rule: where it stopped


def frame(gap, n=6, missing_lb=0):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.05, n)
    rows = []
    for reading in ("adopted", "earlier"):
        for s in range(n):
            lb = np.nan if reading == "adopted" and s < missing_lb else 97.8 - noise[s]
            rows.append({"reading": reading, "net": "F1", "seed": s, "stop epoch SB": 20,
                         "test accuracy SB": 97.8 + gap + noise[s], "train accuracy SB": 99.7,
                         "stop epoch LB": 30 if lb == lb else np.nan, "test accuracy LB": lb,
                         "train accuracy LB": 99.9})
    return pd.DataFrame(rows)


def test_the_verdict_table_judges_each_reading_by_table_2s_rule():
    t = judgments.stop_readings(frame(0.5, missing_lb=2))
    adopted, earlier = t.loc[("adopted", "F1")], t.loc[("earlier", "F1")]
    assert adopted["trials read off"] == "4 of 6" and earlier["trials read off"] == "6 of 6"
    assert earlier["Table 2 verdict"] in ("reproduced", "same direction")
    assert "n = 4" in adopted["gap SB - LB"] and earlier["SB epochs"] == "20"
    tie = judgments.stop_readings(frame(0.0))
    assert set(tie["Table 2 verdict"]) == {"inconclusive"}
