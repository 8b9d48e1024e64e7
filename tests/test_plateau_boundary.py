"""The plateau rule as the trainers apply it, at its threshold's boundary (issue 28).

The training losses are scripted (the trainers' per-epoch evaluation is replaced), so each run's
history improves by just more, or just less, than the stated threshold: a trainer that scales the
threshold on its way to the rule (10x, or a tenth) stops at another epoch and fails here. Both
trainers are checked: the sequential one (``lbsm.train.protocol``) and the vmapped seed ensemble
(``lbsm.train.ensemble``), which applies the rule per member.
"""
import pytest

from lbsm.core.store import Store
from lbsm.train import ensemble
from lbsm.train import protocol as train
from lbsm.train.config import TrainConfig

D = TrainConfig.min_delta          # the stated threshold (1e-4 absolute; cpu-v2 adopts 0)
COMMON = dict(train_subset=500, test_subset=100, precision="fp32", stop="plateau", epochs=5,
              patience=1)
# index 0 is x0 (epoch 0, which the rule does not count); then one loss per epoch
STOPS_AT_3 = [2.0, 1.0, 1.0 - 1.01 * D, 1.0 - 1.01 * D - 0.99 * D, 0.9, 0.8]
NEVER = [2.0, 1.0] + [1.0 - k * 1.01 * D for k in range(1, 5)]   # 1.01 D better every epoch


def scripted(monkeypatch, module, scripts):
    """Replace ``module.evaluate``: the i-th model it sees gets ``scripts[i]`` as its training
    losses, one per evaluation of the training set (test-set evaluations return a constant)."""
    order, calls = {}, {}

    def evaluate(model, x, y, batch_size=None, bn=None):
        if len(x) != COMMON["train_subset"]:
            return 0.5, 50.0
        i = order.setdefault(id(model), len(order))
        calls[i] = calls.get(i, -1) + 1
        return scripts[i][calls[i]], 50.0
    monkeypatch.setattr(module, "evaluate", evaluate)


def test_the_stated_threshold():
    assert (D, TrainConfig.patience) == (1e-4, 5)


@pytest.mark.parametrize("script, epochs, why", [(STOPS_AT_3, 3, "plateau"), (NEVER, 5, "cap")])
def test_a_run_stops_where_the_threshold_says(script, epochs, why, mnist, tmp_path, monkeypatch):
    scripted(monkeypatch, train, [script])
    run = train.fit(TrainConfig("F1", 250, **COMMON), Store(tmp_path / "r"), dataset=mnist,
                    progress=False)
    assert (run.meta["epochs_run"], run.meta["stopped_by"]) == (epochs, why)
    assert list(run.history.train_loss) == script[:epochs + 1]


def test_each_ensemble_member_stops_where_the_threshold_says(mnist, tmp_path, monkeypatch, one_thread):
    scripted(monkeypatch, ensemble, [STOPS_AT_3, NEVER])
    cfgs = [TrainConfig("F1", 250, seed=s, **COMMON) for s in (0, 1)]
    a, b = ensemble.fit_ensemble(cfgs, Store(tmp_path / "e"), dataset=mnist, progress=False)
    assert (a.meta["epochs_run"], a.meta["stopped_by"]) == (3, "plateau")
    assert (b.meta["epochs_run"], b.meta["stopped_by"]) == (5, "cap")
    assert list(a.history.train_loss) == STOPS_AT_3[:4] and list(b.history.train_loss) == NEVER
