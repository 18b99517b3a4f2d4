import numpy as np
import pytest

from shopml.core.errors import NotFittedError, ShopMLError, ValidationError
from shopml.text import embeddings as E

from .conftest import has_nlp


class CountingModel:
    """Stands in for SentenceTransformer: counts what it is asked to encode."""

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, **_):
        self.seen += list(texts)
        return np.array([[len(t), 1.0, t.count("a")] for t in texts], np.float32)


def test_per_text_cache_encodes_each_text_once(monkeypatch):
    fake = CountingModel()
    monkeypatch.setattr(E, "TEXT_CACHE", E._TextCache(100))
    enc = E.SentenceEncoder(model_path="/fake")
    enc._model = fake
    a = enc.encode(["banana", "apple", "banana"])
    b = enc.encode(["apple", "cherry"])
    assert fake.seen == ["banana", "apple", "cherry"]  # duplicates and repeats not re-encoded
    np.testing.assert_array_equal(a[1], b[0])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)


def test_cache_is_bounded():
    cache = E._TextCache(2)
    cache.put_many("m", ["a", "b", "c"], np.eye(3, dtype=np.float32))
    assert cache.get_many("m", ["a", "b", "c"])[0] is None
    assert cache.get_many("m", ["c"])[0] is not None


def test_search_uses_the_same_service():
    from shopml.search import dense

    assert dense.SentenceEncoder is E.SentenceEncoder
    assert dense.normalize_rows is E.normalize_rows


@pytest.mark.skipif(not has_nlp(), reason="the nlp extra is not installed")
def test_one_network_for_all_encoders():
    a, b = E.SentenceEncoder(), E.SentenceEncoder(batch_size=8)
    assert a._load() is b._load()
    emb = a.encode(["where is my order", "where is my parcel", "I love this lipstick"])
    assert emb.shape == (3, 384)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(E, "nlp_available", lambda: False)
    with pytest.raises(ShopMLError, match=r"shopml\[nlp\]"):
        E.get_encoder("minilm")
    enc = E.get_encoder("auto", corpus=["where is my order", "refund my money"])
    assert isinstance(enc, E.TfidfEncoder)


def test_tfidf_fallback_round_trip():
    corpus = ["where is my order", "refund my money please", "cancel the order"]
    enc = E.TfidfEncoder().fit(corpus)
    x = enc.encode(["where is the order", "money refund"])
    assert x.shape == (2, enc.embedding_dim)
    assert np.argmax(x @ enc.encode(corpus).T, axis=1).tolist() == [0, 1]
    back = E.TfidfEncoder.from_state(*enc.state())
    np.testing.assert_allclose(back.encode(corpus), enc.encode(corpus))
    with pytest.raises(NotFittedError):
        E.TfidfEncoder().encode(["x"])
    with pytest.raises(ValidationError, match="corpus"):
        E.get_encoder("tfidf")
