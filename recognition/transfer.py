"""Transfer learning for Task 3: Task 1's network, frozen, with a new last layer for letters.

task3_greek.py and benchmarks/bench_real_handwriting.py both train the head through
`train_head`, so the benchmark measures exactly what Task 3 trains.
"""

from torch import nn

from models import load_checkpoint
from recognition import recipes, training

EPOCHS = 20  # Task 3's training of the new layer
RECIPE = recipes.RECIPES["transfer"]


def keep_in_eval(module):
    """Make `module.train()` leave it in eval mode, dropout off, while the rest of the net trains.

    nn.Module.train switches each child through the child's own `train`, so an instance-level
    `train` that does nothing keeps this branch in eval mode; its class and state_dict keys stay.
    """
    module.eval()
    module.train = lambda mode=True: module
    return module


def greek_net(base, num_classes, frozen_eval=False):
    """`base` (a Net or a NetTransformer) frozen, fc2 replaced by a new Linear(hidden, num_classes).

    Only the new layer learns; with `frozen_eval`, the frozen layers keep their dropout off in
    training.
    """
    for param in base.parameters():
        param.requires_grad_(False)
    if frozen_eval:
        for name, child in base.named_children():
            if name != "fc2":
                keep_in_eval(child)
    base.fc2 = nn.Linear(base.fc1.out_features, num_classes)  # (B, hidden) -> (B, K)
    return base


def frozen_base(model_path, num_classes, device, frozen_dropout=False):
    """Task 1's network read from `model_path`, frozen, with a new last layer, on `device`.

    `frozen_dropout` keeps the frozen layers' dropout active in training, as the report's
    network.train() did.
    """
    model, _ = load_checkpoint(model_path, num_classes=10)
    return training.prepare(greek_net(model, num_classes, frozen_eval=not frozen_dropout), device)


def train_head(
    model_path,
    num_classes,
    train,
    test,
    seed,
    device,
    recipe=RECIPE,
    epochs=EPOCHS,
    frozen_dropout=False,
    **fit_options,
):
    """Train a new last layer on Task 1's frozen network; returns (model, history).

    train, test: (x, y) on `device`.  The seed is set before the network is built, so the new
    layer's initial weights and the shuffles are the seed's.  `fit_options` go to training.fit.
    """
    generator = training.set_seed(seed)
    model = frozen_base(model_path, num_classes, device, frozen_dropout)
    history = training.fit(model, train, test, recipe, epochs, generator, **fit_options)
    return model, history
