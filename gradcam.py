"""Grad-CAM over conv2 (Selvaraju et al. 2017): where in the input the network found evidence for a class.

Used by Task 2 (`extra_gradcam.png`) and the live demo.  Nothing here changes the model:
the convolutions' outputs come from `Net.forward_maps` (no hooks), and the gradient is taken
with `torch.autograd.grad` with respect to that request's own conv2 output (no `.grad`
accumulates on the shared parameters), so threads may run it on one model at once.
The model must be in eval mode (dropout off), as `models.load_checkpoint` leaves it.
"""
import cv2
import numpy as np
import torch
import torch.nn.functional as F


def place_on_input(cam, size=28):
    """Put an (8, 8) map over conv2's output grid onto the (28, 28) input it looked at.

    conv2's unit (u, v) sees a 14x14 input window (conv1 5x5, pool 2, conv2 5x5) centred
    on pixel 2u + 6.5: the 8x8 grid covers the central 16x16 pixels, in steps of 2.
    Doubling the map and padding 6 pixels of zeros keeps each value over its window's
    centre; stretching 8x8 over the whole 28x28 would shift everything outwards.
    """
    cam = np.asarray(cam, dtype=np.float32)
    big = cv2.resize(cam, (2 * cam.shape[1], 2 * cam.shape[0]), interpolation=cv2.INTER_LINEAR)
    pad = (size - big.shape[0]) // 2
    return np.pad(big, pad)


def explain(model, x, classes=None):
    """One forward and one backward pass for images x (N, 1, 28, 28).

    Returns (log-probabilities (N, C), {'conv1', 'conv2'} outputs, Grad-CAM maps float32 (N, 28, 28))
    with each map for the class in `classes` (default: the class the network predicts).
    Each of conv2's 20 feature maps is weighted by the mean gradient of the class's
    log-probability with respect to it; the ReLU of the weighted sum, placed on the
    input and scaled to [0, 1], shows where evidence for that class was found.
    """
    with torch.enable_grad():
        # The input carries the graph, so this works with frozen parameters too (requires_grad False).
        out, acts = model.forward_maps(x.detach().requires_grad_())
        if classes is None:
            classes = out.argmax(1)
        score = out.gather(1, torch.as_tensor(classes, device=out.device).view(-1, 1)).sum()
        (grads,) = torch.autograd.grad(score, acts["conv2"])
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (N, 20, 1, 1)
    cams = F.relu((weights * acts["conv2"]).sum(1)).detach().cpu().numpy()  # (N, 8, 8)
    maps = np.stack([place_on_input(c) for c in cams])
    top = maps.reshape(len(maps), -1).max(1).reshape(-1, 1, 1)
    return out.detach(), {k: v.detach() for k, v in acts.items()}, maps / np.maximum(top, 1e-12)


def grad_cam(model, x, classes):
    """Grad-CAM maps float32 (N, 28, 28) in [0, 1] for images x (N, 1, 28, 28) and one class each."""
    return explain(model, x, classes)[2]
