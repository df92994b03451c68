"""datasets: normalisation as torchvision's transforms do it, batches as a shuffled DataLoader's."""

import pytest
import torch
from PIL import Image

from recognition import datasets, download
from recognition.errors import DataError


def test_normalize_matches_totensor_normalize():
    from torchvision import transforms

    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    expected = torch.stack([tf(Image.fromarray(im.numpy())) for im in images])
    assert torch.allclose(datasets.normalize(images, "MNIST"), expected, atol=1e-6)


def test_batches_equal_a_shuffled_dataloader():
    n, bs = 1000, 64
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.arange(n)),
        batch_size=bs,
        shuffle=True,
        generator=torch.Generator().manual_seed(3),
    )
    ours = datasets.batch_indices(n, bs, generator=torch.Generator().manual_seed(3))
    theirs = [b[0] for b in loader]
    assert len(ours) == len(theirs) == 16 and len(ours[-1]) == n - 15 * bs
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_denormalize_inverts_normalize():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    back = datasets.denormalize(datasets.normalize(images, "FashionMNIST"), "FashionMNIST")
    assert abs(back * 255 - images.numpy()).max() < 1e-3


@pytest.mark.integration
def test_idx_reader_gives_what_torchvisions_gives():
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = download.provision("MNIST")
    for images, labels in (datasets.FILES[True], datasets.FILES[False]):
        assert torch.equal(datasets.read_idx(raw / images, 3), read_image_file(str(raw / images)))
        assert torch.equal(
            datasets.read_idx(raw / labels, 1).long(), read_label_file(str(raw / labels))
        )


def test_a_file_that_is_not_idx_is_one_error(tmp_path):
    (tmp_path / "x").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="not an IDX file of 3-d"):
        datasets.read_idx(tmp_path / "x", 3)
