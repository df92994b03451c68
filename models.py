"""The one network of the report (Figures 2-3) and its checkpoint files.

Every task script imports `Net` from here, so a `model.pth` written by one
script always loads in another.  Checkpoints are plain dicts of tensors and
primitive values, read back with `torch.load(..., weights_only=True)`, which
refuses pickles that would run code.
"""
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import files
from errors import CheckpointError

FORMAT_VERSION = 1


class Net(nn.Module):
    """conv 10@5x5 -> maxpool+ReLU -> conv 20@5x5 -> Dropout2d -> maxpool+ReLU -> fc -> fc.

    Sizes for a (B, 1, 28, 28) input:
        conv1 (B, 10, 24, 24) -> pool1 (B, 10, 12, 12)
        conv2 (B, 20, 8, 8)   -> pool2 (B, 20, 4, 4) -> flatten (B, 320)
        fc1   (B, hidden)     -> fc2   (B, num_classes) -> log_softmax over classes
    """

    def __init__(self, num_classes=10, hidden=50, dropout=0.5):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if hidden < 1 or num_classes < 1:
            raise ValueError("hidden and num_classes must be positive")
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
        """(log-probabilities, {'conv1': (B, 10, 24, 24), 'conv2': (B, 20, 8, 8)}): the forward pass with the
        convolutions' outputs kept.  Activation maps and Grad-CAM read them from here rather than through
        hooks, which would change the shared module while other threads run it."""
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


def layer_table(model):
    """(name, detail, output shape) per layer of a Net for one 28x28 image, found by running it.

    What `plots.network_diagram` draws (report Figs 2 and 15).
    """
    shapes, hooks = {}, []
    for name, module in model.named_children():
        hooks.append(module.register_forward_hook(
            lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))))
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(1, 1, 28, 28, device=next(model.parameters()).device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    details = {
        "conv": lambda m: f"{m.out_channels} filters {m.kernel_size[0]}x{m.kernel_size[1]}",
        "pool": lambda m: f"max {m.kernel_size}x{m.kernel_size} + ReLU",
        "drop": lambda m: f"Dropout2d p={m.p:g}",
        "fc": lambda m: f"{m.in_features} -> {m.out_features}" + (" + ReLU" if m is not last else ""),
    }
    last = list(model.children())[-1]  # the output layer: log-softmax instead of ReLU
    layers = [("input", "grey image", (1, 28, 28))]
    for name, module in model.named_children():
        detail = next((f(module) for k, f in details.items() if name.startswith(k)), type(module).__name__)
        layers.append((name, detail, shapes[name]))
        if name == "pool2":
            layers.append(("flatten", "", (math.prod(shapes[name]),)))
    layers[-1] = (layers[-1][0], layers[-1][1] + " + log-softmax", layers[-1][2])
    return layers


def save_checkpoint(model, path, class_names=None, **extra):
    """Write the weights and everything needed to rebuild `model` to `path`, atomically.

    Written atomically (files.atomic_path): an interrupted save leaves any previous file intact.
    """
    state = {
        "format": FORMAT_VERSION,
        "model_args": model.config(),
        "class_names": list(class_names) if class_names is not None else None,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }
    with files.atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def _args_from_state_dict(sd):
    """Infer Net's constructor arguments from a bare state_dict (the report's format)."""
    try:
        hidden, flat = sd["fc1.weight"].shape
        num_classes = sd["fc2.weight"].shape[0]
    except (KeyError, AttributeError, ValueError) as e:
        raise CheckpointError("it holds no fc1/fc2 weights of the report's Net") from e
    return {"num_classes": int(num_classes), "hidden": int(hidden), "dropout": 0.5}


def load_checkpoint(path, num_classes=None, map_location="cpu", made_by="task1_train_mnist.py"):
    """Rebuild the Net saved at `path`; return (model in eval mode, checkpoint dict).

    Accepts the dict written by `save_checkpoint` and a bare state_dict as the
    report's `torch.save(network.state_dict(), ...)` wrote.  Raises CheckpointError
    with a one-line reason for a missing file (saying to run `made_by`), a file that is not a checkpoint,
    another architecture, or a class count other than `num_classes`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no model at {path}: run `python {made_by}` first, or pass --model FILE")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling refused, truncated file, not a zip, ...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is not a readable weights-only checkpoint ({reason[:120]})") from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} is not a checkpoint (it holds a {type(ckpt).__name__})")
    if "state_dict" not in ckpt:  # a bare state_dict
        ckpt = {"format": 0, "model_args": None, "class_names": None, "state_dict": ckpt}
    sd = ckpt["state_dict"]
    try:
        args = ckpt.get("model_args") or _args_from_state_dict(sd)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    if num_classes is not None and args["num_classes"] != num_classes:
        raise CheckpointError(
            f"{path} has {args['num_classes']} output classes, expected {num_classes}: "
            "is it the model of another task?")
    model = Net(**args)
    try:
        model.load_state_dict(sd)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} holds weights of another architecture than models.Net") from e
    model.eval()
    ckpt["model_args"] = args
    return model, ckpt
