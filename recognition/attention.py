"""Attention rollout (Abnar and Zuidema 2020): the input patches a NetTransformer's answer draws on.

Each layer's attention, averaged over its heads, says how much each token takes from every
other.  The residual connection around it carries each token's own value on as well, so a
layer is taken as 0.5 x attention + 0.5 x identity, rows renormalised, and the layers are
multiplied in order: row i of the product says how much of token i at the top comes from each
input patch.  The head reads the mean of all tokens (or the CLS token), so a patch's share of
the answer is the mean of its column over all rows (or its entry in the CLS row).
"""

import numpy as np
import torch

from recognition.gradcam import place_on_input


@torch.inference_mode()
def rollout(model, x):
    """(log-probabilities (N, C), maps float32 (N, 28, 28) in [0, 1]) for images x (N, 1, 28, 28):
    each patch's share of what the head reads, from the smallest (0) to the largest (1), drawn over
    the patch's centre.  Eval mode."""
    model.eval()
    log_p, weights = model.attention(x)
    n = weights[0].shape[-1]
    eye = torch.eye(n, device=x.device)
    joint = eye.expand(len(x), n, n)
    for w in weights:  # (N, tokens, tokens), rows sum to 1
        layer = 0.5 * w + 0.5 * eye
        joint = (layer / layer.sum(-1, keepdim=True)) @ joint
    read = joint[:, 0] if model.pool == "cls" else joint.mean(1)  # (N, tokens)
    shares = read[:, -(model.side**2) :].reshape(len(x), model.side, model.side).cpu().numpy()
    # Every patch keeps some share through the residual path: drawn from the smallest share up, the
    # map shows where the answer draws more than elsewhere.
    low = shares.min(axis=(1, 2), keepdims=True)
    shares = (shares - low) / np.maximum(shares.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    step, first = model.map_geometry("encoder")
    maps = np.stack([place_on_input(s, step, first, x.shape[-1]) for s in shares])
    return log_p, maps / np.maximum(maps.reshape(len(maps), -1).max(1).reshape(-1, 1, 1), 1e-12)
