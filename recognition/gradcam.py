"""Grad-CAM (Selvaraju et al. 2017): where in the input the network found evidence for a class.

Taken over the last map `forward_maps` returns: Net's conv2, NetTransformer's encoder output
tokens laid out on their grid of patches.  Used by Task 2 (`extra_gradcam.png`) and the live demo.
Nothing here changes the model: the maps come from `forward_maps` (no hooks), and the gradient
is taken with `torch.autograd.grad` with respect to that request's own map (no `.grad`
accumulates on the shared parameters), so threads may run it on one model at once.
The model must be in eval mode (dropout off), as `models.load_checkpoint` leaves it.
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def place_on_input(cam, step=2, first=6.5, size=28):
    """Put a map over a layer's grid of units onto the (size, size) input they looked at.

    Unit (u, v) looks at a window centred on pixel (first + step*u, first + step*v): for conv2
    (the defaults) a 14x14 window (conv1 5x5, pool 2, conv2 5x5) centred on 2u + 6.5, so its
    8x8 grid covers the central 16x16 pixels.  Each value is drawn over its window's centre and
    interpolated between centres; stretching the grid over the whole input would shift it outwards.
    """
    to_input = np.float32([[step, 0, first], [0, step, first]])  # unit -> pixel coordinates
    return cv2.warpAffine(
        np.asarray(cam, dtype=np.float32),
        to_input,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )


def explain(model, x, classes=None):
    """One forward and one backward pass for images x (N, 1, 28, 28).

    Returns (log-probabilities (N, C), the maps of `forward_maps`, Grad-CAM maps float32
    (N, 28, 28)), each map for the class in `classes` (default: the class the network predicts).
    Each channel of the last map (conv2's 20) is weighted by the mean gradient of the class's
    log-probability with respect to it; the ReLU of the weighted sum, placed on the
    input and scaled to [0, 1], shows where evidence for that class was found.
    """
    with torch.enable_grad():
        # The input carries the graph, so this works with frozen parameters (requires_grad False).
        out, acts = model.forward_maps(x.detach().requires_grad_())
        if classes is None:
            classes = out.argmax(1)
        score = out.gather(1, torch.as_tensor(classes, device=out.device).view(-1, 1)).sum()
        last = list(acts)[-1]
        (grads,) = torch.autograd.grad(score, acts[last])
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (N, channels, 1, 1)
    cams = F.relu((weights * acts[last]).sum(1)).detach().cpu().numpy()  # (N, grid, grid): 8x8
    step, first = model.map_geometry(last)
    maps = np.stack([place_on_input(c, step, first, x.shape[-1]) for c in cams])
    top = maps.reshape(len(maps), -1).max(1).reshape(-1, 1, 1)
    return out.detach(), {k: v.detach() for k, v in acts.items()}, maps / np.maximum(top, 1e-12)


def grad_cam(model, x, classes):
    """Grad-CAM maps float32 (N, 28, 28) in [0, 1] for images x (N, 1, 28, 28), a class each."""
    return explain(model, x, classes)[2]
