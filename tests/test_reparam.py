"""lbsm.analyses.reparam: rescaling a BatchNorm-fed layer leaves the network's function unchanged,
and Metric 2.1 (not scale invariant) changes with the scale."""
import copy

import pytest
import torch

from lbsm.analyses.landscape import recalibrate_
from lbsm.analyses.reparam import bn_fed_layers, rescale_before_batchnorm
from lbsm.analyses.sharpness import keskar_sharpness
from lbsm.core import models

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def f1():
    """F1 at its initialization, with non-trivial running statistics, and 256 random examples."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 784, generator=g)
    y = torch.randint(0, 10, (256,), generator=g)
    model = recalibrate_(models.build("F1", seed=0), x)
    return model, x, y


def outputs(model, x, bn):
    with torch.no_grad(), models.evaluation(model, bn):
        return model(x)


def assert_same_function(a, b, x, bn, rtol=1e-5):
    """Outputs equal to rtol relative to the largest logit (elementwise relative error is
    meaningless for logits near 0)."""
    ya, yb = outputs(a, x, bn), outputs(b, x, bn)
    assert (ya - yb).abs().max() <= rtol * ya.abs().max()


def test_f1_has_five_bn_fed_layers(f1):
    assert [name for name, _, _ in bn_fed_layers(f1[0])] == ["0", "3", "6", "9", "12"]


@pytest.mark.parametrize("bn", ["batch", "running"])
@pytest.mark.parametrize("alpha", [0.1, 10.0])
@pytest.mark.parametrize("layer", [None, 0, "6"])
def test_f1_function_unchanged(f1, alpha, bn, layer):
    model, x, _ = f1
    before = copy.deepcopy(model.state_dict())
    net = rescale_before_batchnorm(model, alpha, layer)
    assert_same_function(model, net, x, bn)
    # the chosen weights did change (F1's Linear layers are modules 0, 3, ..., 12), the input did not
    index = {None: 0, 0: 0, "6": 6}[layer]
    assert not torch.equal(net[index].weight, model[index].weight)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("bn", ["batch", "running"])
@pytest.mark.parametrize("alpha", [0.1, 10.0])
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-4), (torch.float64, 1e-10)])
def test_conv_net_function_unchanged(alpha, bn, dtype, rtol):
    # C1: two conv -> BN and two dense -> BN layers; four 32 x 32 images (its dense layer fixes
    # the size). In float32 its round-off alone moves the logits by up to 2.4e-5 of the largest
    # (measured), hence 1e-4 there; in float64 the identity holds to 1e-13.
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 32, 32, generator=g, dtype=dtype).to(memory_format=torch.channels_last)
    model = recalibrate_(models.build("C1", seed=0).to(dtype), x)
    net = rescale_before_batchnorm(model, alpha)
    assert len(bn_fed_layers(net)) == 4
    assert_same_function(model, net, x, bn, rtol)


def test_scaled_quantities(f1):
    model, _, _ = f1
    net = rescale_before_batchnorm(model, 10.0, 1)
    lin, bn = net[3], net[4]
    torch.testing.assert_close(lin.weight, 10 * model[3].weight)
    torch.testing.assert_close(lin.bias, 10 * model[3].bias)
    torch.testing.assert_close(bn.running_mean, 10 * model[4].running_mean)
    torch.testing.assert_close(bn.running_var, 100 * model[4].running_var)
    assert bn.eps == pytest.approx(100 * model[4].eps)
    torch.testing.assert_close(bn.weight, model[4].weight)   # gamma and beta untouched
    torch.testing.assert_close(net[0].weight, model[0].weight)  # other layers untouched


def test_bad_arguments(f1):
    model = f1[0]
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            rescale_before_batchnorm(model, alpha)
    with pytest.raises(ValueError, match="out of range"):
        rescale_before_batchnorm(model, 2.0, 5)
    with pytest.raises(ValueError, match="not a layer"):
        rescale_before_batchnorm(model, 2.0, "15")  # the output layer feeds no BatchNorm
    with pytest.raises(ValueError, match="no Linear"):
        rescale_before_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 2)), 2.0)


def test_keskar_sharpness_is_not_scale_invariant(f1):
    # Dinh et al.'s point: the same function, three values of Metric 2.1. The box
    # eps (|x_i| + 1) is relatively wider on small weights, so shrinking every BN-fed layer
    # (alpha = 0.1) makes the network look sharper and growing them (alpha = 10) flatter. Measured
    # at this seed (2 L-BFGS-B iterations, eps = 1e-3): 381, 124, 21; we assert a factor 2 each way.
    model, x, y = f1
    phi = {a: keskar_sharpness(rescale_before_batchnorm(model, a), x, y, eps=1e-3, iters=2).value
           for a in (0.1, 1.0, 10.0)}
    assert phi[0.1] > 2 * phi[1.0] > 4 * phi[10.0] > 0
