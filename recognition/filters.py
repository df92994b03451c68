"""A convolution layer's filters applied by hand with OpenCV, and checked against the layer itself.

The report looks inside a network by taking a conv layer's weights and running
each filter over an image with `cv2.filter2D`.  `filter2D` computes a
cross-correlation, as `nn.Conv2d` does (neither flips the kernel), but it
centres the kernel on each pixel and keeps the image's size, while the layer
starts at its padded top-left corner and moves in steps of its stride.  With a
kernel of height kh and the layer's padding p and stride s, output row u of the
layer is row

    y = s * u - p + kh // 2

of the filter2D response (the same for columns).  `layer_check` samples the
response there and measures how far it is from the layer's own output.
"""

import cv2
import numpy as np
import torch


def filter2d_response(channels, kernel, bias=0.0, border=cv2.BORDER_CONSTANT):
    """One filter's full-size response: the sum over c of filter2D(channel c, kernel c), + bias.

    channels: (C, H, W) array, kernel: (C, kh, kw) array -> float32 (H, W).
    `border` is OpenCV's border mode: BORDER_CONSTANT pads with zeros as nn.Conv2d does;
    BORDER_REFLECT_101 is filter2D's default (what the report used).
    """
    channels = np.asarray(channels, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    if channels.ndim != 3 or kernel.ndim != 3 or len(channels) != len(kernel):
        raise ValueError(
            f"expected (C, H, W) channels and a (C, kh, kw) kernel, got {channels.shape} "
            f"and {kernel.shape}"
        )
    out = np.full(channels.shape[1:], bias, dtype=np.float32)
    for image, k in zip(channels, kernel):
        out += cv2.filter2D(image, cv2.CV_32F, k, borderType=border)
    return out


def conv_positions(conv, height, width):
    """Rows and columns of a full-size filter2D response that line up with `conv`'s outputs.

    Returns (rows, cols) index arrays for an output of conv over a (height, width) input,
    and a boolean (out_h, out_w) mask of the positions whose window lies wholly inside
    the image (where the border mode cannot matter).
    """
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    if conv.dilation != (1, 1) or conv.groups != 1:
        raise ValueError("only undilated, ungrouped convolutions line up with filter2D")
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    u, v = np.arange(out_h), np.arange(out_w)
    rows, cols = sh * u - ph + kh // 2, sw * v - pw + kw // 2
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= height or cols.max() >= width:
        raise ValueError(
            "the layer's padding reaches beyond the centre of its kernel; filter2D cannot line up"
        )
    inside_r = (sh * u - ph >= 0) & (sh * u - ph + kh <= height)
    inside_c = (sw * v - pw >= 0) & (sw * v - pw + kw <= width)
    return rows, cols, np.outer(inside_r, inside_c)


@torch.no_grad()
def layer_check(conv, inputs, indices, border=cv2.BORDER_CONSTANT):
    """Apply filters `indices` of `conv` to `inputs` (C, H, W) with filter2D; compare with conv.

    Returns (responses float32 (n, H, W) including each filter's bias, and a dict with
    'max_abs_diff' between the sampled responses and the layer's output, 'max_abs_output'
    of that output, and 'compared' = how many values were compared).  Positions whose
    window overlaps the border are compared only when `border` pads with zeros, as the layer does.
    """
    inputs = torch.as_tensor(inputs, dtype=torch.float32)
    weight = conv.weight.detach().float().cpu().numpy()  # (out_channels, C, kh, kw)
    bias = (
        conv.bias.detach().float().cpu().numpy() if conv.bias is not None else np.zeros(len(weight))
    )
    x = inputs.cpu().numpy()
    responses = np.stack([filter2d_response(x, weight[k], bias[k], border) for k in indices])
    # On a GPU, cuDNN would run the convolution in TF32 (10-bit mantissa, ~1e-3 relative error):
    # turn that off so that the check compares float32 with float32.
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        layer_out = conv(inputs.unsqueeze(0).to(conv.weight.device)).squeeze(0)[list(indices)]
    layer_out = layer_out.float().cpu().numpy()
    rows, cols, inside = conv_positions(conv, *x.shape[1:])
    sampled = responses[:, rows][:, :, cols]  # (n, out_h, out_w)
    mask = np.ones_like(inside) if border == cv2.BORDER_CONSTANT else inside
    diff = np.abs(sampled - layer_out)[:, mask]
    return responses, {
        "max_abs_diff": float(diff.max()),
        "max_abs_output": float(np.abs(layer_out).max()),
        "compared": int(diff.size),
    }


def strongest_input_channel(kernel):
    """A (C, kh, kw) kernel's input channel of largest weights (L2 norm), and its (kh, kw) slice."""
    kernel = np.asarray(kernel)
    c = int(np.argmax(np.sqrt((kernel**2).sum(axis=(1, 2)))))
    return c, kernel[c]
