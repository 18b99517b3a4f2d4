import numpy as np
import pytest
from PIL import Image

from shopml.core.errors import DataError, ValidationError
from shopml.data.images import iter_image_batches, load_image
from shopml.data.loaders import get_loader

CLOTHING = get_loader("clothing-images")


@pytest.fixture
def two_tone(tmp_path):
    """A 10x20 (HxW) PNG: left half red, right half blue; PNG is lossless so pixels are exact."""
    a = np.zeros((10, 20, 3), dtype=np.uint8)
    a[:, :10, 0] = 255
    a[:, 10:, 2] = 255
    p = tmp_path / "two_tone.png"
    Image.fromarray(a).save(p)
    return p, a


def test_load_keeps_pixels_and_shape(two_tone):
    p, a = two_tone
    got = load_image(p)
    assert got.dtype == np.uint8 and got.shape == (10, 20, 3)
    np.testing.assert_array_equal(got, a)


def test_crop_keeps_aspect_and_stretch_does_not(two_tone):
    p, _ = two_tone
    sq = load_image(p, size=10)  # centre 10x10 crop: columns 5..14, half red half blue
    assert sq.shape == (10, 10, 3)
    assert tuple(sq[5, 0]) == (255, 0, 0) and tuple(sq[5, 9]) == (0, 0, 255)
    assert (sq[..., 0] > 127).sum() == 50
    thin = load_image(p, size=(10, 4), fit="stretch")
    assert thin.shape == (10, 4, 3)
    assert tuple(thin[5, 0]) == (255, 0, 0) and tuple(thin[5, 3]) == (0, 0, 255)


def test_grey_and_rgba_become_rgb(tmp_path):
    Image.new("L", (3, 2), color=7).save(tmp_path / "g.png")
    Image.new("RGBA", (3, 2), color=(1, 2, 3, 4)).save(tmp_path / "a.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (2, 3, 3) and (g == 7).all()
    assert tuple(load_image(tmp_path / "a.png")[0, 0]) == (1, 2, 3)


def test_missing_and_corrupt_files_raise_naming_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "text.jpg").write_bytes(b"this is not an image")
    with pytest.raises(DataError, match="text.jpg: cannot decode"):
        load_image(tmp_path / "text.jpg")
    Image.new("RGB", (64, 64), color=(9, 9, 9)).save(tmp_path / "full.jpg", quality=95)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:300])
    with pytest.raises(DataError, match="cut.jpg: cannot decode"):
        load_image(tmp_path / "cut.jpg")


def test_bad_arguments_are_rejected(two_tone):
    p, _ = two_tone
    with pytest.raises(ValidationError, match="size"):
        load_image(p, size=(0, 3))
    with pytest.raises(ValidationError, match="fit"):
        load_image(p, size=4, fit="pad")
    with pytest.raises(ValidationError, match="batch_size"):
        next(iter_image_batches([p], 4, batch_size=0))


def test_batches_are_float_in_order_with_a_short_last_one(tmp_path):
    paths = []
    for i in range(5):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (6, 4), color=(i * 50, 0, 255)).save(p)
        paths.append(p)
    batches = list(iter_image_batches(paths, size=(4, 6), batch_size=2))
    assert [b.shape for b in batches] == [(2, 4, 6, 3), (2, 4, 6, 3), (1, 4, 6, 3)]
    assert all(b.dtype == np.float32 for b in batches)
    reds = np.concatenate([b[:, 0, 0, 0] for b in batches])
    np.testing.assert_allclose(reds, np.arange(5) * 50 / 255.0, rtol=1e-6)
    assert all(float(b[..., 2].min()) == 1.0 for b in batches)
    (first,) = list(iter_image_batches(paths[:1], size=(4, 6), channels_first=True))
    assert first.shape == (1, 3, 4, 6) and first.flags.c_contiguous


def test_a_corrupt_image_in_a_batch_stops_with_its_name(tmp_path, two_tone):
    p, _ = two_tone
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="bad.png"):
        list(iter_image_batches([p, bad], size=8, batch_size=4))


@pytest.mark.skipif(not CLOTHING.found(), reason="clothing data not in the data directory")
def test_real_clothing_photo():
    path = CLOTHING.locate() / "train/dress/009b3c31-fb62-45c0-be9a-37a5c238cb88.jpg"
    img = load_image(path)
    assert img.shape == (533, 400, 3) and img.dtype == np.uint8  # labels.csv: 400 x 533
    assert 0 < img.mean() < 255
    small = load_image(path, size=64)
    assert small.shape == (64, 64, 3)
