"""The networks: the report's `Net` (Figures 2-3) and `NetTransformer` (the current course's
transformer task), and how to rebuild either from its checkpoint.

Every task script imports its network from here, so a `model.pth` written by one script always
loads in another: `save_checkpoint` records the architecture and the constructor's arguments, and
`load_checkpoint` rebuilds the network from them (or from a bare state_dict's weights alone).
The file itself, the plain state_dict that the report's `network.load_state_dict(torch.load(path))`
reads, with this record in its `_metadata`, written atomically, is recognition/checkpoints.py's.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from recognition import checkpoints
from recognition.errors import CheckpointError, ConfigError, first_line

IMAGE_SIZE = 28


class Net(nn.Module):
    """conv 10@5x5 -> maxpool+ReLU -> conv 20@5x5 -> Dropout2d -> maxpool+ReLU -> fc -> fc.

    Sizes for a (B, 1, 28, 28) input:
        conv1 (B, 10, 24, 24) -> pool1 (B, 10, 12, 12)
        conv2 (B, 20, 8, 8)   -> pool2 (B, 20, 4, 4) -> flatten (B, 320)
        fc1   (B, hidden)     -> fc2   (B, num_classes) -> log_softmax over classes
    """

    def __init__(self, num_classes=10, hidden=50, dropout=0.5):
        super().__init__()
        _check_head(num_classes, hidden, dropout)
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.dropout = nn.Dropout2d(dropout)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(20 * 4 * 4, hidden)  # 320 = 20 channels x 4 x 4 after two pools
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.forward_maps(x)[0]

    def forward_maps(self, x):
        """(log-probabilities, {'conv1': (B, 10, 24, 24), 'conv2': (B, 20, 8, 8)}): the forward
        pass with the convolutions' outputs kept.  Activation maps and Grad-CAM read them from here
        rather than through hooks, which would change the shared module while other threads run it.
        """
        c1 = self.conv1(x)  # (B, 1, 28, 28) -> (B, 10, 24, 24)
        x = F.relu(self.pool1(c1))  # -> (B, 10, 12, 12)
        c2 = self.conv2(x)  # -> (B, 20, 8, 8)
        x = F.relu(self.pool2(self.dropout(c2)))  # -> (B, 20, 4, 4)
        x = torch.flatten(x, 1)  # (B, 20, 4, 4) -> (B, 320)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1), {"conv1": c1, "conv2": c2}

    def config(self):
        """The constructor arguments that rebuild this network."""
        return {
            "num_classes": self.fc2.out_features,
            "hidden": self.fc1.out_features,
            "dropout": self.dropout.p,
        }

    def map_geometry(self, name):
        """Where each unit of a map of `forward_maps` looks on the input: (step in pixels, centre of
        unit 0).  conv2's unit (u, v) sees a 14x14 window (conv1 5x5, pool 2, conv2 5x5) centred on
        pixel 2u + 6.5."""
        return {"conv1": (1, 2.0), "conv2": (2, 6.5)}[name]

    @staticmethod
    def args_from_state_dict(sd):
        """The constructor's arguments from a bare state_dict (the report's format); the weights
        do not record the dropout rate, so it is the report's 0.5."""
        return {
            "num_classes": int(sd["fc2.weight"].shape[0]),
            "hidden": int(sd["fc1.weight"].shape[0]),
            "dropout": 0.5,
        }


def _check_head(num_classes, hidden, dropout):
    """ConfigError unless the classification head's sizes and dropout rate can build a network."""
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    if hidden < 1 or num_classes < 1:
        raise ConfigError("hidden and num_classes must be positive")


class NetTransformer(nn.Module):
    """The digit network with transformer layers (the current course's task), in four parts:

    1. tokens: every `patch` x `patch` patch at `stride` (patches overlap when stride < patch), each
       through one Linear(patch*patch -> d_model), plus a learned position embedding and dropout;
    2. an encoder of `layers` pre-norm layers (`heads` heads, feed-forward `ff`, GELU), batch-first;
    3. one token from its output: the mean of all tokens (`pool='mean'`) or a CLS token
       (`pool='cls'`), then LayerNorm;
    4. the head: fc1 Linear(d_model -> hidden) + ReLU + dropout, fc2 Linear(hidden -> classes),
       log-softmax.

    The defaults are the course template's: 4x4 patches at stride 2 = 13 x 13 = 169 tokens of 48.
    The head's layers have Net's names, fc1 and fc2, so Task 3's transfer (replace fc2, freeze the
    rest) and the fc1 feature maps treat both networks alike.
    """

    def __init__(
        self,
        num_classes=10,
        patch=4,
        stride=2,
        d_model=48,
        heads=8,
        layers=4,
        ff=128,
        dropout=0.1,
        pool="mean",
        hidden=128,
        head_dropout=0.0,
    ):
        super().__init__()
        _check_transformer(patch, stride, d_model, heads, layers, ff, dropout, pool)
        _check_head(num_classes, hidden, head_dropout)
        self.patch, self.stride, self.pool, self.heads = patch, stride, pool, heads
        # Tokens per row; a stride that does not divide the rest of the row drops what is left.
        self.side = (IMAGE_SIZE - patch) // stride + 1
        self.patch_embed = nn.Linear(patch * patch, d_model)  # the same layer for every patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if pool == "cls" else None
        n_tokens = self.side**2 + (pool == "cls")
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, d_model) * 0.02)
        self.pos_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        # enable_nested_tensor only speeds up padded batches, which images never are (and it
        # refuses pre-norm).
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, hidden)
        self.head_dropout = nn.Dropout(head_dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def embed_patches(self, x):
        """(B, 1, 28, 28) -> (B, side*side, d_model): each patch through the one linear layer."""
        # Tensor.unfold makes strided views (copied once by reshape): 40x faster on a CPU than
        # F.unfold.
        patches = x.unfold(2, self.patch, self.stride).unfold(3, self.patch, self.stride)
        # (B, 1, side, side, p, p) -> (B, side*side, p*p) -> (B, side*side, d_model)
        return self.patch_embed(patches.reshape(len(x), self.side**2, self.patch**2))

    def tokens(self, x, embedded=None):
        """(B, 1, 28, 28) -> (B, tokens, d_model): embedded patches (CLS first with pool='cls')
        plus positions.  `embedded`: `embed_patches(x)` if the caller has it already."""
        t = self.embed_patches(x) if embedded is None else embedded
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], dim=1)
        return self.pos_dropout(t + self.pos_embed)

    def classify(self, t):
        """Encoder output (B, tokens, d_model) -> log-probabilities (B, classes)."""
        pooled = t[:, 0] if self.pool == "cls" else t.mean(dim=1)
        h = self.head_dropout(F.relu(self.fc1(self.norm(pooled))))
        return F.log_softmax(self.fc2(h), dim=1)

    def forward(self, x):
        return self.classify(self.encoder(self.tokens(x)))

    def forward_maps(self, x):
        """(log-probabilities, {'patches', 'encoder'}): token maps (B, d_model, side, side), like
        Net's convolution outputs: the embedded patches, and the last patch tokens the answer is
        computed from (the encoder's output; with a CLS token, which alone reaches the head, the
        last layer's input).  The answer is computed from the 'encoder' map itself, so Grad-CAM can
        take gradients there."""
        embedded = self.embed_patches(x)
        patches = self._as_map(embedded)
        t = self.tokens(x, embedded)
        *first, last = self.encoder.layers
        for layer in first:
            t = layer(t)
        if self.pool == "cls":
            grid = self._as_map(t[:, 1:])
            out = self.classify(last(torch.cat([t[:, :1], self._as_tokens(grid)], dim=1)))
        else:
            grid = self._as_map(last(t))
            out = self.classify(self._as_tokens(grid))
        return out, {"patches": patches, "encoder": grid}

    def _as_map(self, t):
        # (B, side*side, d) -> (B, d, side, side)
        return t.transpose(1, 2).reshape(len(t), -1, self.side, self.side)

    @staticmethod
    def _as_tokens(grid):
        return grid.flatten(2).transpose(1, 2)  # (B, d, side, side) -> (B, side*side, d)

    def attention(self, x):
        """(log-probabilities, [attention weights (B, tokens, tokens) per layer, heads averaged]).

        Runs the encoder's layers one by one as nn.TransformerEncoderLayer does in pre-norm form,
        asking each attention for its weights (the fused forward never makes them).  Eval mode:
        dropout is off.
        """
        t, weights = self.tokens(x), []
        for layer in self.encoder.layers:
            h = layer.norm1(t)
            attended, w = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=True)
            t = t + attended
            t = t + layer.linear2(layer.activation(layer.linear1(layer.norm2(t))))
            weights.append(w)
        return self.classify(t), weights

    def config(self):
        layer = self.encoder.layers[0]
        return {
            "num_classes": self.fc2.out_features,
            "patch": self.patch,
            "stride": self.stride,
            "d_model": self.patch_embed.out_features,
            "heads": self.heads,
            "layers": len(self.encoder.layers),
            "ff": layer.linear1.out_features,
            "dropout": self.pos_dropout.p,
            "pool": self.pool,
            "hidden": self.fc1.out_features,
            "head_dropout": self.head_dropout.p,
        }

    def map_geometry(self, name):
        """Token (u, v) looks at the patch whose top-left pixel is (stride*u, stride*v)."""
        return self.stride, (self.patch - 1) / 2

    @staticmethod
    def args_from_state_dict(sd):
        """The constructor's arguments from a bare state_dict.

        The weights fix every size but two: the heads (taken as the template's 8, or fewer if
        d_model needs it) and the stride, taken as the smallest that gives the saved number of
        tokens.  Dropout rates are not in the weights: the defaults.
        """
        d_model, patch_pixels = sd["patch_embed.weight"].shape
        patch = math.isqrt(patch_pixels)
        pool = "cls" if "cls_token" in sd else "mean"
        side = math.isqrt(sd["pos_embed"].shape[1] - (pool == "cls"))
        stride = next(s for s in range(1, IMAGE_SIZE + 1) if (IMAGE_SIZE - patch) // s + 1 == side)
        return {
            "num_classes": int(sd["fc2.weight"].shape[0]),
            "patch": patch,
            "stride": stride,
            "d_model": int(d_model),
            "heads": math.gcd(8, int(d_model)),
            "layers": len({k.split(".")[2] for k in sd if k.startswith("encoder.layers.")}),
            "ff": int(sd["encoder.layers.0.linear1.weight"].shape[0]),
            "pool": pool,
            "hidden": int(sd["fc1.weight"].shape[0]),
        }


def _check_transformer(patch, stride, d_model, heads, layers, ff, dropout, pool):
    """ConfigError, in one line, for transformer settings that cannot build a network."""
    if not 1 <= patch <= IMAGE_SIZE:
        raise ConfigError(
            f"patch must be 1 to {IMAGE_SIZE} pixels "
            f"(the image is {IMAGE_SIZE}x{IMAGE_SIZE}), got {patch}"
        )
    if not 1 <= stride <= IMAGE_SIZE:
        raise ConfigError(f"stride must be 1 to {IMAGE_SIZE} pixels, got {stride}")
    if min(d_model, heads, layers, ff) < 1:
        raise ConfigError("d_model, heads, layers and ff must be positive")
    if d_model % heads:
        raise ConfigError(
            f"d_model ({d_model}) must be divisible by heads ({heads}): "
            "each head gets d_model/heads"
        )
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    if pool not in ("mean", "cls"):
        raise ConfigError(f"pool must be 'mean' or 'cls', got {pool!r}")


ARCHITECTURES = {"cnn": Net, "transformer": NetTransformer}


def architecture(model):
    """'cnn' or 'transformer': the name checkpoints record."""
    return next(name for name, cls in ARCHITECTURES.items() if type(model) is cls)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def layer_table(model):
    """(name, detail, output shape) per layer of a Net or NetTransformer for one 28x28 image.

    What `plots.network_diagram` draws (report Figs 2 and 15).  Net's shapes are found by running
    it.
    """
    if isinstance(model, NetTransformer):
        return _transformer_table(model.config(), model.side)
    shapes, hooks = {}, []
    for name, module in model.named_children():
        hooks.append(
            module.register_forward_hook(
                lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))
            )
        )
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(1, 1, 28, 28, device=next(model.parameters()).device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    last = list(model.children())[-1]  # the output layer: log-softmax instead of ReLU
    details = {
        "conv": lambda m: f"{m.out_channels} filters {m.kernel_size[0]}x{m.kernel_size[1]}",
        "pool": lambda m: f"max {m.kernel_size}x{m.kernel_size} + ReLU",
        "drop": lambda m: f"Dropout2d p={m.p:g}",
        "fc": lambda m: (
            f"{m.in_features} -> {m.out_features}" + (" + ReLU" if m is not last else "")
        ),
    }
    layers = [("input", "grey image", (1, 28, 28))]
    for name, module in model.named_children():
        detail = next(
            (f(module) for k, f in details.items() if name.startswith(k)), type(module).__name__
        )
        layers.append((name, detail, shapes[name]))
        if name == "pool2":
            layers.append(("flatten", "", (math.prod(shapes[name]),)))
    layers[-1] = (layers[-1][0], layers[-1][1] + " + log-softmax", layers[-1][2])
    return layers


def _transformer_table(c, side):
    tokens, d = side * side, c["d_model"]
    pooled = "CLS token" if c["pool"] == "cls" else "mean of tokens"
    return [
        ("input", "grey image", (1, IMAGE_SIZE, IMAGE_SIZE)),
        (
            "patches",
            f"{c['patch']}x{c['patch']} at stride {c['stride']}",
            (tokens, c["patch"] ** 2),
        ),
        (
            "embed",
            f"Linear {c['patch'] ** 2} -> {d}\n+ positions",
            (tokens + (c["pool"] == "cls"), d),
        ),
        (
            "encoder",
            f"{c['layers']} layers, {c['heads']} heads\nff {c['ff']}, GELU, pre-norm",
            (tokens + (c["pool"] == "cls"), d),
        ),
        ("pool", f"{pooled}\n+ LayerNorm", (d,)),
        ("fc1", f"{d} -> {c['hidden']} + ReLU", (c["hidden"],)),
        ("fc2", f"{c['hidden']} -> {c['num_classes']} + log-softmax", (c["num_classes"],)),
    ]


def save_checkpoint(model, path, class_names=None, **extra):
    """Write `model`'s state_dict to `path` with its architecture and constructor's arguments, the
    class names and `extra` (epochs, task, ...; plain JSON values): all that `load_checkpoint`
    needs to rebuild it."""
    return checkpoints.write(
        path, architecture(model), model.config(), model.state_dict(), class_names, **extra
    )


def load_checkpoint(path, num_classes=None, map_location="cpu", made_by="task1_train_mnist.py"):
    """Rebuild the Net or NetTransformer saved at `path`: (model in eval mode, checkpoint dict).

    Reads what `save_checkpoint` writes, and a bare state_dict as the report's
    `torch.save(network.state_dict(), ...)` wrote it; the returned dict's 'arch' and 'model_args'
    say what was built either way.  CheckpointError, in one line, for a missing file (saying to run
    `made_by`), a file that is not a checkpoint, another architecture, or a class count other than
    `num_classes`.
    """
    ckpt = checkpoints.read(path, made_by)
    sd = ckpt["state_dict"]
    arch, args = ckpt["arch"], ckpt["model_args"]
    if arch is None:
        arch, args = _infer_from_weights(path, sd)
    if arch not in ARCHITECTURES:
        raise CheckpointError(
            f"{path} holds a {arch!r} network; this version knows {', '.join(ARCHITECTURES)}"
        )
    if num_classes is not None and args["num_classes"] != num_classes:
        raise CheckpointError(
            f"{path} has {args['num_classes']} output classes, expected {num_classes}: "
            "is it the model of another task?"
        )
    try:
        model = ARCHITECTURES[arch](**args)
    except (TypeError, ConfigError) as e:
        raise CheckpointError(
            f"{path} records settings this version cannot build ({first_line(e)})"
        ) from None
    try:
        model.load_state_dict(sd)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(
            f"{path} holds weights of another architecture than models.{type(model).__name__}"
        ) from e
    model.to(map_location).eval()
    ckpt.update(arch=arch, model_args=args)
    return model, ckpt


def _infer_from_weights(path, sd):
    """(architecture, constructor's arguments) of a bare state_dict, told apart by their layers."""
    arch = "transformer" if "patch_embed.weight" in sd else "cnn"
    try:
        return arch, ARCHITECTURES[arch].args_from_state_dict(sd)
    except (KeyError, AttributeError, ValueError, TypeError, StopIteration) as e:
        raise CheckpointError(
            f"{path}: it holds no weights of models.Net or models.NetTransformer"
        ) from e
