"""What a trained network does with a dataset: the errors it makes and a 2-D map of its features.

The confusion matrix, per-class accuracy and most confused pairs are used by Task 2 (MNIST) and
Task 3 (Greek letters).  The map: the 50-d fc1 features (after ReLU, what fc2 reads) laid out
in 2-D by PCA and by scikit-learn's t-SNE, with a fixed random state and a stated perplexity;
Task 1 draws it for MNIST, Task 3 for the letters.
"""

import time

import numpy as np
import torch
import torch.nn.functional as F

from recognition import training

PERPLEXITY = 30.0  # scikit-learn's default: each point weighs about 30 neighbours
# t-SNE's start and optimisation are random; fixed, the same features give the same map
RANDOM_STATE = 0
# 500 iterations (the first 250 with early exaggeration) keep each point's neighbours as well as
# scikit-learn's default 1000 in two thirds of the time: trustworthiness 0.9911 against 0.9914 on
# the fc1 features of Task 1's first 1000 test digits (KL divergence 0.61 against 0.59).
TSNE_ITERATIONS = 500


def confusion(y, pred, k):
    """counts[true, predicted] over k classes: an int64 (k, k) tensor."""
    y, pred = torch.as_tensor(y).cpu().long(), torch.as_tensor(pred).cpu().long()
    return torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def per_class_accuracy(counts):
    """Fraction right per true class (rows of `counts`); 0 for a class with no examples."""
    counts = np.asarray(counts)
    return np.diag(counts) / np.maximum(counts.sum(1), 1)


def most_confused(counts, n=5):
    """The n (true, predicted, count) pairs with the most errors, most first (ties: lower true
    class first)."""
    off = np.asarray(counts).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:n]
    k = off.shape[1]
    return [(int(i // k), int(i % k), int(off.flat[i])) for i in order if off.flat[i] > 0]


def fc1_features(model, x, batch_size=256):
    """(fc1 features after ReLU, numpy (N, hidden); log-probabilities (N, classes)) in one
    eval-mode pass."""
    saved = []
    handle = model.fc1.register_forward_hook(
        lambda m, i, out: saved.append(F.relu(out).float().cpu())
    )
    try:
        log_p = training.predict(model, x, batch_size)
    finally:
        handle.remove()
    return torch.cat(saved).numpy(), log_p.cpu()


def tsne_perplexity(n, perplexity=PERPLEXITY):
    """The perplexity used for n points: at most (n - 1) / 3, as t-SNE weighs about
    3 x perplexity neighbours."""
    return float(min(perplexity, max(1.0, (n - 1) / 3)))


def maps_2d(features, perplexity=PERPLEXITY, random_state=RANDOM_STATE):
    """{'PCA': (N, 2), 't-SNE': (N, 2)} of features (N, d), and {'perplexity', 'random_state',
    'seconds', 'cpu_seconds'}: wall and CPU time per method (on a shared machine, wall time says
    little alone)."""
    # imported here: only the scripts that draw maps pay for it
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float32)
    if len(features) < 4:
        raise ValueError(f"a map needs at least 4 points, got {len(features)}")
    used = tsne_perplexity(len(features), perplexity)
    maps, seconds, cpu = {}, {}, {}
    for name, method in (
        ("PCA", PCA(n_components=2, random_state=random_state)),
        (
            "t-SNE",
            TSNE(
                n_components=2,
                perplexity=used,
                init="pca",
                max_iter=TSNE_ITERATIONS,
                random_state=random_state,
            ),
        ),
    ):
        t0, c0 = time.perf_counter(), time.process_time()
        maps[name] = method.fit_transform(features)
        seconds[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
    return maps, {
        "perplexity": used,
        "random_state": random_state,
        "seconds": seconds,
        "cpu_seconds": cpu,
    }
