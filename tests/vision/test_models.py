"""Image classifiers: learning on generated stripes, messy input, pretrained weights, I/O."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shopml.core.errors import DataError, NotFittedError, ValidationError
from shopml.vision import CNNClassifier, HistogramGBMClassifier, ImageClassifier
from shopml.vision.base import stratified_holdout, toy_images
from shopml.vision.io import decode_many, decode_one, read_labelled_images

TINY = {"image_size": 16, "widths": (4, 8), "blocks": (1, 1), "epochs": 3, "batch_size": 16}


@pytest.fixture(scope="module")
def toy():
    return toy_images(n=64, size=20, seed=0), toy_images(n=32, size=20, seed=1)


def test_floor_learns_the_stripes(toy):
    (X, y), (Xt, yt) = toy
    m = HistogramGBMClassifier(
        image_size=16, n_estimators=30, num_leaves=4, min_child_samples=2, cells=2
    ).fit(X, y)
    assert (m.predict(Xt) == yt).mean() > 0.9  # colour alone separates the classes
    p = m.predict_proba(Xt)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert list(m.classes_) == ["stripes-h", "stripes-v"]


def test_cnn_trains_and_keeps_best_epoch(toy):
    (X, y), (Xt, yt) = toy
    m = CNNClassifier(**TINY, lr=1e-2, seed=3).fit(X, y)
    hist = m.history_
    assert len(hist) == 3 and all("val_accuracy" in h for h in hist)
    assert 1 <= m.best_epoch_ <= 3
    e = m.embed(Xt)
    assert e.shape == (len(Xt), 8)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    # same seed, same data: the same network
    again = CNNClassifier(**TINY, lr=1e-2, seed=3).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(Xt), again.predict_proba(Xt), rtol=1e-5, atol=1e-6)


def test_time_budget_stops_training(toy):
    (X, y), _ = toy
    m = CNNClassifier(**{**TINY, "epochs": 500}, max_time_s=0.5).fit(X, y)
    assert len(m.history_) < 500


def test_fit_skips_unreadable_images_with_reasons(image_dir):
    paths, labels = read_labelled_images(image_dir / "train")
    assert len(paths) == 34
    m = HistogramGBMClassifier(image_size=16, n_estimators=5, min_child_samples=2).fit(
        paths, labels
    )
    reasons = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in m.skipped_}
    assert set(reasons) == {"broken.jpg", "truncated.jpg"}
    assert "cannot decode" in reasons["broken.jpg"]
    with pytest.raises(DataError, match="broken.jpg"):  # prediction never drops a row silently
        m.predict([str(image_dir / "train" / "stripes-h" / "broken.jpg")])


def test_csv_with_bom_and_relative_paths(image_dir, tmp_path):
    rows = [p.relative_to(image_dir) for p in sorted((image_dir / "test").rglob("*.*"))]
    csv = image_dir / "labels.csv"
    csv.write_text(
        "\ufeffpath,label\n" + "".join(f"{p},{p.parent.name}\n" for p in rows), encoding="utf-8"
    )
    paths, labels = read_labelled_images(csv)
    assert len(paths) == 12 and set(labels) == {"stripes-h", "stripes-v"}
    assert all(p.startswith(str(image_dir)) for p in paths)
    with pytest.raises(DataError, match="no such folder"):
        read_labelled_images(tmp_path / "nope")


def test_inputs_are_validated(toy):
    (X, y), _ = toy
    with pytest.raises(ValidationError, match="one label per image"):
        HistogramGBMClassifier().fit(X, y[:-1])
    with pytest.raises(ValidationError, match="at least 2 classes"):
        HistogramGBMClassifier().fit(X, np.full(len(X), "a"))
    with pytest.raises(ValidationError, match="no images"):
        HistogramGBMClassifier().fit([], [])
    with pytest.raises(ValidationError, match="expected a path"):
        HistogramGBMClassifier().fit([1, 2], ["a", "b"])
    with pytest.raises(NotFittedError):
        CNNClassifier().embed(X[:2])
    with pytest.raises(ValidationError, match="widths"):
        CNNClassifier(widths=(4,), blocks=(1, 1)).fit(X, y)


def test_decode_accepts_bytes_arrays_and_grey(toy):
    (X, _), _ = toy
    buf = io.BytesIO()
    Image.fromarray(X[0]).save(buf, format="PNG")
    assert decode_one(buf.getvalue(), 12).shape == (12, 12, 3)
    assert decode_one(X[0][:, :, 0], 12).shape == (12, 12, 3)  # greyscale array
    assert decode_one(X[0].astype(np.float32) / 255, 20).dtype == np.uint8
    dec = decode_many([X[0], b"junk", X[1]], 10, skip_bad=True)
    assert dec.index.tolist() == [0, 2] and dec.skipped[0][0] == 1


def test_pretrained_weights_from_a_safetensors_file(toy, tmp_path):
    (X, y), (Xt, _) = toy
    first = CNNClassifier(**TINY).fit(X, y)
    first.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    # a different number of classes: the body loads, the head starts fresh
    y3 = np.where(np.arange(len(y)) % 3 == 0, "third", y)
    warm = CNNClassifier(
        **{**TINY, "epochs": 1}, lr=1e-9, warmup_epochs=0.01, pretrained=str(weights)
    ).fit(X, y3)
    assert warm.pretrained_loaded_ > 0
    a = first.net_.stem[0].weight.detach().numpy()
    b = warm.net_.stem[0].weight.detach().numpy()
    np.testing.assert_allclose(a, b, atol=1e-4)  # lr ~ 0: the stem is the file's
    with pytest.raises(ValidationError, match="share no tensor"):
        CNNClassifier(
            image_size=16, widths=(6, 12), blocks=(1, 1), epochs=1, pretrained=str(weights)
        ).fit(X, y)
    with pytest.raises(ValidationError, match="no such file"):
        CNNClassifier(**TINY, pretrained=str(tmp_path / "none.safetensors")).fit(X, y)


def test_load_any_saved_classifier(toy, tmp_path):
    (X, y), (Xt, _) = toy
    m = HistogramGBMClassifier(image_size=16, n_estimators=5, min_child_samples=2).fit(X, y)
    m.save(tmp_path / "f")
    back = ImageClassifier.load(tmp_path / "f")
    assert type(back) is HistogramGBMClassifier
    np.testing.assert_allclose(back.predict_proba(Xt), m.predict_proba(Xt))


def test_stratified_holdout_keeps_every_class():
    y = np.repeat([0, 1, 2], [50, 10, 1])
    tr, va = stratified_holdout(y, 0.2, seed=0)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    assert np.bincount(y[va], minlength=3).tolist() == [10, 2, 0]
