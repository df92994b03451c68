"""models.NetTransformer: shapes, bad settings, checkpoints of both architectures, attention,
transfer, training."""

import dataclasses

import numpy as np
import pytest
import torch

from models import Net, NetTransformer, load_checkpoint, parameter_count, save_checkpoint
from recognition import attention, datasets, gradcam, recipes, training, transfer
from recognition.errors import ConfigError

SMALL = {"patch": 7, "stride": 7, "d_model": 16, "heads": 2, "layers": 1, "ff": 32, "hidden": 16}


def test_template_defaults_give_169_tokens_of_48():
    net = NetTransformer()
    assert net.side == 13 and net.pos_embed.shape == (1, 169, 48)
    assert (
        net.patch_embed.in_features == 16
        and net.fc1.out_features == 128
        and net.fc2.out_features == 10
    )
    layer = net.encoder.layers[0]
    assert layer.norm_first and layer.self_attn.num_heads == 8 and layer.linear1.out_features == 128
    assert len(net.encoder.layers) == 4


@pytest.mark.parametrize(
    "kw,side,tokens",
    [
        (
            {"patch": 5, "stride": 3},
            8,
            64,
        ),  # (28 - 5) // 3 + 1 = 8: the stride does not divide, the rest is dropped
        ({"patch": 6, "stride": 4}, 6, 36),
        ({"patch": 4, "stride": 2, "pool": "cls"}, 13, 170),  # the CLS token comes first
        ({"patch": 28, "stride": 1, "pool": "cls"}, 1, 2),
        ({"patch": 1, "stride": 5, "d_model": 12, "heads": 3}, 6, 36),
    ],
)
def test_output_and_token_shapes_for_unusual_patches(kw, side, tokens):
    net = NetTransformer(num_classes=7, **kw).eval()
    x = torch.randn(3, 1, 28, 28)
    out = net(x)
    assert out.shape == (3, 7) and torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)
    assert net.side == side and net.tokens(x).shape[1] == tokens
    _, maps = net.forward_maps(x)
    assert (
        maps["patches"].shape == maps["encoder"].shape == (3, net.config()["d_model"], side, side)
    )


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"d_model": 50, "heads": 8}, "divisible by heads"),
        ({"patch": 29}, "patch must be 1 to 28"),
        ({"stride": 0}, "stride must be"),
        ({"dropout": 1.0}, "dropout"),
        ({"pool": "max"}, "pool"),
        ({"hidden": 0}, "positive"),
    ],
)
def test_bad_settings_are_one_line_errors(kw, message):
    with pytest.raises(ConfigError, match=message) as e:
        NetTransformer(**kw)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)


def test_attention_pass_is_the_forward_pass():
    torch.manual_seed(0)
    net = NetTransformer(pool="cls", patch=6, stride=3).eval()
    x = torch.randn(4, 1, 28, 28)
    out, weights = net.attention(x)
    with torch.no_grad():
        assert torch.allclose(out, net(x), atol=1e-5)
    assert len(weights) == 4 and weights[0].shape == (4, 65, 65)
    assert torch.allclose(weights[2].sum(-1), torch.ones(4, 65), atol=1e-5)


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_rollout_maps_sit_over_the_patches(pool):
    torch.manual_seed(1)
    net = NetTransformer(pool=pool, **SMALL).eval()
    log_p, maps = attention.rollout(net, torch.randn(2, 1, 28, 28))
    assert log_p.shape == (2, 10) and maps.shape == (2, 28, 28)
    assert maps.min() >= 0 and np.isclose(maps.max(), 1)


def test_token_maps_sit_over_their_patch_centres():
    cam = np.zeros((13, 13), np.float32)
    # token (3, 10) of 4x4 patches at stride 2 reads rows 6..9, columns 20..23: centre (7.5, 21.5)
    cam[3, 10] = 1.0
    placed = gradcam.place_on_input(cam, *NetTransformer().map_geometry("encoder"))
    ys, xs = np.nonzero(placed == placed.max())
    assert abs(ys.mean() - 7.5) <= 0.5 and abs(xs.mean() - 21.5) <= 0.5


def test_gradcam_over_the_token_grid():
    torch.manual_seed(2)
    net = NetTransformer(**SMALL).eval()
    net.requires_grad_(False)  # the demo's frozen model: the graph runs through the input
    out, acts, maps = gradcam.explain(net, torch.randn(3, 1, 28, 28))
    assert (
        out.shape == (3, 10)
        and acts["encoder"].shape == (3, 16, 4, 4)
        and maps.shape == (3, 28, 28)
    )
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1 + 1e-6


@pytest.mark.parametrize(
    "make",
    [
        lambda: Net(num_classes=3, hidden=40, dropout=0.3),
        lambda: NetTransformer(num_classes=3, pool="cls", patch=5, stride=3, heads=4),
    ],
)
def test_checkpoint_round_trip_of_both_architectures(tmp_path, make):
    torch.manual_seed(3)
    net = make().eval()
    save_checkpoint(net, tmp_path / "m.pth", class_names=["a", "b", "c"])
    loaded, ckpt = load_checkpoint(tmp_path / "m.pth", num_classes=3)
    assert type(loaded) is type(net) and loaded.config() == net.config() and not loaded.training
    assert ckpt["arch"] == ("cnn" if isinstance(net, Net) else "transformer")
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


@pytest.mark.parametrize(
    "kw", [{}, {"pool": "cls", "patch": 5, "stride": 3, "d_model": 32, "layers": 2, "ff": 64}]
)
def test_bare_transformer_state_dict_loads(tmp_path, kw):
    torch.manual_seed(4)
    net = NetTransformer(**kw).eval()
    torch.save(net.state_dict(), tmp_path / "bare.pth")
    loaded, ckpt = load_checkpoint(tmp_path / "bare.pth", num_classes=10)
    assert ckpt["arch"] == "transformer" and ckpt["model_args"]["stride"] == net.stride
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_transfer_replaces_the_head_output_and_freezes_the_rest():
    net = transfer.greek_net(NetTransformer(**SMALL), 5, frozen_eval=True)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc2.weight", "fc2.bias"]
    net.train()
    assert (
        net.fc2.training
        and not net.encoder.training
        and not net.encoder.layers[0].self_attn.training
    )
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(net(x), net(x))  # the frozen dropout stays off while fc2 trains
    torch.nn.functional.nll_loss(net(x), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == {
        "fc2.weight",
        "fc2.bias",
    }


@pytest.mark.integration
def test_tiny_training_lands_far_above_chance():
    g = training.set_seed(0)
    x, y = datasets.load_split("MNIST", True, limit=3000)
    xt, yt = datasets.load_split("MNIST", False, limit=500)
    net = NetTransformer(patch=7, stride=3, d_model=32, heads=4, layers=2, ff=64)
    assert parameter_count(net) < 40_000
    # 3 epochs of 94 batches: 282 steps
    recipe = dataclasses.replace(recipes.RECIPES["transformer-fast"], batch_size=32, augment=False)
    history = training.fit(
        net,
        (datasets.normalize(x, "MNIST"), y),
        (datasets.normalize(xt, "MNIST"), yt),
        recipe,
        3,
        g,
        eval_epochs=[3],
        eval_train=False,
    )
    assert history["epochs"][-1]["test_accuracy"] > 0.6  # chance 0.1, a broken encoder's too


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_maps_pass_is_the_forward_pass(pool):
    torch.manual_seed(5)
    net = NetTransformer(pool=pool, patch=5, stride=3).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        out, maps = net.forward_maps(x)
        assert torch.allclose(out, net(x), atol=1e-5)
        assert torch.allclose(maps["patches"].flatten(2).transpose(1, 2), net.embed_patches(x))
