"""Fig 10's picture for any Net's conv1: the first training digit filtered by each of its filters.

Task 2 draws it for Task 1's learned conv1 (`fig10_conv1_responses.png`) and ext_gabor.py for
its frozen Gabor bank (`gabor_bank_responses.png`): each filter above its `cv2.filter2D`
response, the digit at the left, and the responses checked against conv1's own output.
"""

import copy

import cv2

from recognition import datasets, filters, plots
from recognition.paths import DATA_DIR


def responses_figure(conv, titles, path, suptitle, data_dir=DATA_DIR, show=False):
    """Draw `conv`'s 1-channel filters above their filter2D responses to the first training digit.

    The digit is normalised as the network sees it.  filter2D runs with its default border, as the
    report's did; `filters.layer_check` compares it with the layer where the border plays no part.
    Returns (the digit's label, the check: max_abs_diff, max_abs_output, compared).
    """
    # A CPU copy, as filter2D runs on the CPU: the check does not depend on the training device.
    conv = copy.deepcopy(conv).cpu()
    x_u8, x, y = datasets.load_normalized("MNIST", train=True, data_dir=data_dir, limit=1)
    digit = x[0]  # (1, 28, 28)
    kernels = [w[0].numpy() for w in conv.weight.detach()]  # (10, 1, 5, 5) -> ten (5, 5)
    responses, check = filters.layer_check(
        conv, digit, range(len(kernels)), border=cv2.BORDER_REFLECT_101
    )
    label = int(y[0])
    plots.filter_response_grid(
        kernels,
        responses,
        path,
        titles,
        cols=5,
        source=x_u8[0].numpy(),
        source_title=f"first training digit ({label})",
        suptitle=suptitle,
        show=show,
    )
    return label, check
