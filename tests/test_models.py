import pytest
import torch

from lbsm.core import models
from lbsm.core.constants import BN_EVAL_POLICIES


def fc(n_in, width, depth, n_out):  # Linear + BN(gamma, beta) per hidden layer, then output Linear
    return (n_in * width + width + 2 * width) + (depth - 1) * (width * width + 3 * width) + width * n_out + n_out


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out + 2 * c_out  # conv + bias + BN


def dense_bn(n_in, n_out):
    return n_in * n_out + 3 * n_out


C1_BY_HAND = conv(3, 64, 5) + conv(64, 64, 5) + dense_bn(4096, 384) + dense_bn(384, 192)
VGG = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
       (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
C2_BY_HAND = sum(conv(a, b, 3) for a, b in VGG) + dense_bn(512, 512)


@pytest.mark.parametrize("net, expected", [
    ("F1", 1_462_794),
    ("F1", fc(784, 512, 5, 10)),
    ("F2", fc(360, 512, 7, 1973)),
    ("C1", C1_BY_HAND + 192 * 10 + 10),
    ("C3", C1_BY_HAND + 192 * 100 + 100),
    ("C2", C2_BY_HAND + 512 * 10 + 10),
    ("C4", C2_BY_HAND + 512 * 100 + 100),
])
def test_parameter_counts(net, expected):
    assert models.num_params(models.build(net)) == expected


@pytest.mark.parametrize("net", list(models.NETWORKS))
def test_output_shapes(net):
    _, k, shape = models.NETWORKS[net]
    m = models.build(net)
    with models.evaluation(m, "batch"):
        out = m(torch.rand(4, *shape))
    assert out.shape == (4, k)


def test_seed_fixes_x0_and_does_not_touch_global_rng():
    state = torch.get_rng_state()
    a, b = models.build("F1", seed=3), models.build("F1", seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    c = models.build("F1", seed=4)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_glorot_uniform_bounds_and_zero_bias():
    m = models.build("F1", seed=0)
    w = m[0].weight
    bound = (6 / (784 + 512)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert torch.all(m[0].bias == 0)


def test_bn_batch_policy_uses_batch_statistics_and_keeps_buffers():
    m = models.build("F1", seed=0)
    bn = models.batchnorms(m)[0]
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x = torch.rand(64, 784) * 3 + 1
    with models.evaluation(m, "batch"):
        y_full = m(x)
        y_half = m(x[:32])
        assert not m.training and models.batchnorms(m)[0].training  # dropout off, BN on batch stats
    # batch statistics: a sample's output depends on the batch it is evaluated with
    assert not torch.allclose(y_full[:32], y_half, atol=1e-4)
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert bn.track_running_stats and m.training  # restored (build() returns a train-mode module)


def test_bn_running_policy_is_per_sample():
    m = models.build("F1", seed=0)
    x = torch.rand(64, 784)
    with models.evaluation(m, "running"):
        assert torch.allclose(m(x)[:32], m(x[:32]), atol=1e-5)


def test_dropout_off_in_evaluation():
    m = models.build("C1", seed=0)
    x = torch.rand(8, 3, 32, 32)
    with models.evaluation(m, "batch"):
        assert torch.equal(m(x), m(x))


def test_unknown_network_and_policy():
    with pytest.raises(ValueError, match="unknown network 'F3'"):
        models.build("F3")
    with pytest.raises(ValueError, match="unknown BatchNorm policy"):
        with models.evaluation(models.build("F1"), "frozen"):
            pass


@pytest.mark.parametrize("bn", BN_EVAL_POLICIES)
@pytest.mark.parametrize("top", [True, False])
def test_evaluation_restores_every_submodule_flag(bn, top):
    """Flags set by hand on submodules come back exactly: a BatchNorm frozen in eval mode inside a
    training model, a dropout switched on inside an eval-mode one, a BatchNorm that does not track
    running statistics. ``model.train(was)`` alone would overwrite all of them."""
    m = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                            torch.nn.Dropout(0.5),
                            torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.BatchNorm1d(6)),
                            torch.nn.Dropout(0.5), torch.nn.Linear(6, 2))
    m.train(top)
    m[1].eval()                           # frozen BN statistics (fine-tuning style)
    m[3].train(not top)                   # a dropout disagreeing with the model
    m[4][1].track_running_stats = False   # batch statistics only
    m[4].train(not top)                   # a whole submodule disagreeing
    flags = [(name, mod.training) for name, mod in m.named_modules()]
    tracks = [bn_.track_running_stats for bn_ in models.batchnorms(m)]
    assert len({t for _, t in flags}) == 2  # the flags really are mixed
    with models.evaluation(m, bn):
        assert not m.training and not m[3].training and not m[5].training  # dropout off
        assert all(b.training == (bn == "batch") for b in models.batchnorms(m))
        m(torch.randn(8, 4))
    assert [(name, mod.training) for name, mod in m.named_modules()] == flags
    assert [bn_.track_running_stats for bn_ in models.batchnorms(m)] == tracks
    with pytest.raises(RuntimeError), models.evaluation(m, bn):  # restored when the body raises too
        raise RuntimeError
    assert [(name, mod.training) for name, mod in m.named_modules()] == flags
    assert [bn_.track_running_stats for bn_ in models.batchnorms(m)] == tracks
