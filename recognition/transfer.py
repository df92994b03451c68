"""Transfer learning for Task 3: Task 1's network, frozen, with a new last layer for letters.

Three heads (HEADS): the report's, where only the new last layer learns, and two for many
writers, where the layers before it learn as well, with label smoothing (recipe
`transfer-writers`).

task3_greek.py and benchmarks/bench_real_handwriting.py both train the head through
`train_head`, so the benchmark measures exactly what Task 3 trains.
"""

from torch import nn

from models import load_checkpoint
from recognition import recipes, training

EPOCHS = 20  # Task 3's training of the new layer
RECIPE = recipes.RECIPES["transfer"]
# What learns: the network's last N layers with weights, the new fc2 among them (Net: conv1,
# conv2, fc1, fc2; the transformer: patch_embed, encoder, norm, fc1, fc2).  More layers learning
# is a general gain on real writers' letters (docs/greek-letters.md has the measurements); the
# report's protocol is "last".
HEADS = {"last": 1, "last-two": 2, "last-three": 3}
HEAD_RECIPES = {
    "last": "transfer",
    "last-two": "transfer-writers",
    "last-three": "transfer-writers",
}
HEAD = "last-three"


def learning_layers(base, head):
    """The names of the layers of `base` that learn under `head`: its last HEADS[head] children
    that have weights, in the order the network runs them."""
    weighted = [name for name, child in base.named_children() if list(child.parameters())]
    return weighted[-HEADS[head] :]


def keep_in_eval(module):
    """Make `module.train()` leave it in eval mode, dropout off, while the rest of the net trains.

    nn.Module.train switches each child through the child's own `train`, so an instance-level
    `train` that does nothing keeps this branch in eval mode; its class and state_dict keys stay.
    """
    module.eval()
    module.train = lambda mode=True: module
    return module


def greek_net(base, num_classes, frozen_eval=False, head="last"):
    """`base` (a Net or a NetTransformer) frozen, fc2 replaced by a new Linear(hidden, num_classes).

    The layers `learning_layers(base, head)` learn, the new one always; with `frozen_eval`, the
    frozen layers keep their dropout off in training.
    """
    for param in base.parameters():
        param.requires_grad_(False)
    learning = learning_layers(base, head)
    if frozen_eval:
        for name, child in base.named_children():
            if name not in learning:
                keep_in_eval(child)
    base.fc2 = nn.Linear(base.fc1.out_features, num_classes)  # (B, hidden) -> (B, K)
    for name in learning:
        getattr(base, name).requires_grad_(True)
    return base


def frozen_base(model_path, num_classes, device, frozen_dropout=False, head=HEAD):
    """Task 1's network read from `model_path`, frozen but for the layers `head` names, with a new
    last layer, on `device`.

    `frozen_dropout` keeps the frozen layers' dropout active in training, as the report's
    network.train() did.
    """
    model, _ = load_checkpoint(model_path, num_classes=10)
    net = greek_net(model, num_classes, frozen_eval=not frozen_dropout, head=head)
    return training.prepare(net, device)


def train_head(
    model_path,
    num_classes,
    train,
    test,
    seed,
    device,
    recipe=None,
    epochs=EPOCHS,
    frozen_dropout=False,
    head=HEAD,
    **fit_options,
):
    """Train a new last layer (and the others `head` names) on Task 1's frozen network;
    returns (model, history).

    train, test: (x, y) on `device`.  The recipe defaults to the head's (HEAD_RECIPES).  The seed
    is set before the network is built, so the new layer's initial weights and the shuffles are
    the seed's.  `fit_options` go to training.fit.
    """
    recipe = recipe or recipes.RECIPES[HEAD_RECIPES[head]]
    generator = training.set_seed(seed)
    model = frozen_base(model_path, num_classes, device, frozen_dropout, head)
    history = training.fit(model, train, test, recipe, epochs, generator, **fit_options)
    return model, history
