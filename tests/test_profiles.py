import pytest

from lbsm.experiments import profiles


def test_profiles_are_data_with_the_papers_batch_sizes():
    cpu = profiles.get("cpu")
    sb, lb = cpu.trial("F1", 0)
    assert (sb.batch_size, lb.batch_size) == (256, 6000)  # SB = 256, LB = 10% of 60,000
    assert sb.seed == lb.seed and sb.train_subset is None
    smoke_sb, smoke_lb = profiles.get("smoke").trial("C1", 0)
    assert smoke_lb.batch_size == smoke_sb.train_subset // 10  # LB = 10% of the subset it trains on
    paper = profiles.get("paper")
    assert set(paper.nets) == {"F1", "F2", "C1", "C2", "C3", "C4"}
    assert all(p.seeds == (0, 1, 2, 3, 4) and p.stop == "plateau" for p in paper.nets.values())
    assert paper.sharpness_iters == 10 and paper.subspace_dim == 100


def test_smoke_is_small():
    smoke = profiles.get("smoke")
    assert all(p.train_subset and p.train_subset <= 5000 for p in smoke.nets.values())
    assert smoke.sharpness_iters <= 2


def test_unknown_profile_and_network():
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        profiles.get("gpu")
    with pytest.raises(ValueError, match="does not train C4"):
        profiles.get("cpu").trial("C4", 0)


def test_overrides_change_the_key():
    cpu = profiles.get("cpu")
    assert cpu.trial("F1", 0)[0].key != cpu.trial("F1", 0, method="conservative")[0].key
    assert len(cpu.trials("F1")) == 5


# the paper's LB/SB ratio per data set: LB = 10 % of the full training set, SB = 256
PAPER_RATIO = {"mnist": 6000 / 256, "cifar10": 5000 / 256, "cifar100": 5000 / 256,
               "timit": 72133 / 256}


@pytest.mark.parametrize("name", ["cpu", "paper"])
def test_book_profiles_keep_the_papers_lb_sb_ratio(name):
    """A network whose LB/SB ratio would be far from the paper's is left out of the profile
    rather than shown as a different experiment under its name (within 10 %)."""
    P = profiles.get(name)
    for net in P.nets:
        sb, lb = P.trial(net, P.net(net).seeds[0])
        ratio = lb.batch_size / sb.batch_size
        want = PAPER_RATIO[sb.dataset]
        assert abs(ratio / want - 1) < 0.1, f"{name}/{net}: LB/SB {ratio:.1f}, paper {want:.1f}"
    for spec in P.remedies.augmentation:
        assert not spec.train.train_subset, f"{name}: Table 6 on a subset changes the LB/SB ratio"
