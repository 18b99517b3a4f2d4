"""The search engine: analyse and correct the query, retrieve lexically and semantically, fuse,
re-rank, and say why.

``SearchEngine(...).fit(items)`` indexes a catalogue (the ``items`` table); with relevance
judgements (``fit(items, judgements)`` or later ``fit_ranker``) it also learns the fusion weights
and the LambdaMART re-ranker. ``search(query, k, filters=...)`` returns the items, best first,
with their score and the features that explain it (and, with ``explain=True``, each feature's
contribution to the re-ranker's score); the corrected query comes with them
(``result.attrs["corrected_query"]``). ``search`` keeps no state between calls, so one engine
serves concurrent requests without a lock.

The engine is an :class:`~shopml.core.estimator.Estimator`: ``save``/``load`` write and read the
whole fitted engine (``model.json`` + ``arrays.npz`` with the catalogue embeddings, the fusion
weights and the item features; ``items.parquet``; the re-ranker and the relevance regressor as
LightGBM text in ``reranker/`` and ``regressor/``). The lexical side (BM25F postings, the
spelling vocabulary, the title-matching features) is a deterministic function of the saved items
and is rebuilt from them on load (about 2 s for Home Depot's 41,066 titles): nothing is refitted
that depends on judgements, and loading never executes code from the files.

A query goes through: analyser words -> spelling correction against the catalogue vocabulary
-> stems -> BM25F top-``depth`` and dense top-``depth`` -> the union of both as candidates ->
pair features -> the chosen scorer (``bm25``, ``dense``, ``rrf``, ``fusion`` or ``rerank``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.estimator import FORMAT, Estimator
from shopml.core.persist import atomic_write_parquet, read_json
from shopml.search.analyzer import Analyzer, Tokens
from shopml.search.bm25 import BM25
from shopml.search.dense import DenseIndex, SentenceEncoder, TextEncoder
from shopml.search.features import TextMatchFeatures
from shopml.search.hybrid import LinearFusion, rrf_pairs
from shopml.search.ltr import LambdaMARTReranker, RelevanceRegressor
from shopml.search.spelling import SpellingCorrector
from shopml.search.topk import pair_lookup

TEXT_FIELDS = ("title", "description", "category", "brand", "attributes")
METHODS = ("bm25", "dense", "rrf", "fusion", "rerank")


@dataclass
class QueryBatch:
    """Queries after analysis: what every retriever and feature reads."""

    texts: list[str]
    terms: Tokens  # stemmed, spelling-corrected
    matrix: sp.csr_matrix  # BM25 query-term counts
    corrected: np.ndarray  # bool: spelling changed the query
    corrected_text: list[str]  # normalised words after correction (unstemmed)
    embeddings: np.ndarray | None

    def __len__(self) -> int:
        return len(self.texts)


class SearchEngine(Estimator):
    """Product search over a catalogue.

    Parameters
    ----------
    fields : sequence of str, optional
        Text columns to index (default: those of title, description, category, brand, attributes
        that hold any text).
    field_weights : mapping, optional
        BM25F weight per field (default description 0.5, the rest 1).
    k1, b : float
        BM25 parameters.
    stem : "porter", "snowball", "s" or None
        Analyser stemmer (:mod:`shopml.search.stemmer`).
    language : str
        Snowball language for ``stem="snowball"`` (english, french, german, spanish, ...).
    spelling : bool
        Correct query words towards the catalogue vocabulary.
    encoder : "minilm", a TextEncoder, or None
        Sentence encoder for semantic retrieval; None turns dense retrieval off.
    cache_dir : str, optional
        Where the MiniLM encoder caches catalogue embeddings.
    depth : int
        Candidates taken from each retriever before fusion and re-ranking.
    train_depth : int
        The learned scorers train on judged items and candidates within this rank of a list.
    rrf_k : int
        Reciprocal rank fusion constant.
    relevance_floor, grade_scale : float
        Judged relevance ``r`` gains ``max(r - relevance_floor, 0)``; the re-ranker's integer
        grade is that gain times ``grade_scale``, rounded (Home Depot 1..3: floor 1, scale 3).
    ranker_params : mapping, optional
        LightGBM parameters of the re-ranker (over the defaults in :meth:`fit_ranker_frame`).
    seed : int
        Seed of the learned scorers.
    """

    capability: ClassVar[str] = "search"

    def __init__(
        self,
        fields: Sequence[str] | None = None,
        field_weights: Mapping[str, float] | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        stem: str | None = "porter",
        spelling: bool = True,
        encoder: str | TextEncoder | None = "minilm",
        cache_dir: str | None = None,
        depth: int = 100,
        train_depth: int = 20,
        rrf_k: int = 60,
        relevance_floor: float = 1.0,
        grade_scale: float = 3.0,
        ranker_params: Mapping[str, Any] | None = None,
        seed: int = 0,
        language: str = "english",
    ) -> None:
        self.fields = fields
        self.field_weights = field_weights
        self.k1 = k1
        self.b = b
        self.stem = stem
        self.spelling = spelling
        self.encoder = encoder
        self.cache_dir = cache_dir
        self.depth = depth
        self.train_depth = train_depth
        self.rrf_k = rrf_k
        self.relevance_floor = relevance_floor
        self.grade_scale = grade_scale
        self.ranker_params = ranker_params
        self.seed = seed
        self.language = language

    # ================================================================= fit
    def fit(
        self,
        items: pd.DataFrame,
        judgements: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
    ) -> SearchEngine:
        """Index ``items``; learn fusion and re-ranking from ``judgements`` if given.

        ``items`` needs ``item_id`` and at least one text field; ``judgements`` needs
        ``query, item_id, relevance``; ``events`` (``item_id, event_type``) adds popularity and
        click-through features.
        """
        items = self._check_items(items)
        self._fit_lexical(items)
        self.dense_ = None
        if self.encoder is not None:
            self.dense_ = DenseIndex(self._make_encoder()).fit(self._dense_texts())
        self.item_features_ = self._item_features(events)
        self.reranker_ = self.fusion_ = self.regressor_ = None
        self.fitted_ = True  # the index answers queries from here on; the ranker is optional
        if judgements is not None:
            self.fit_ranker(judgements)
        return self

    def _fit_lexical(self, items: pd.DataFrame) -> None:
        """Analyser, BM25F, spelling and matching features: everything learned from the text."""
        self.items_ = items.reset_index(drop=True)
        self.item_index_ = pd.Index(self.items_["item_id"].astype(str))
        self.analyzer_ = Analyzer(stem=self.stem, language=self.language)
        normalized = {f: self.analyzer_.normalize(self.items_[f]) for f in self.fields_}
        words = {f: self.analyzer_.words_of_normalized(t) for f, t in normalized.items()}
        terms = {f: self.analyzer_.stem_tokens(w) for f, w in words.items()}
        # long descriptions count half; with one field this is plain BM25 (as bm25s computes it)
        weights = {"description": 0.5} | dict(self.field_weights or {})
        self.bm25_ = BM25(
            self.k1, self.b, {f: w for f, w in weights.items() if f in self.fields_}, self.analyzer_
        ).fit_tokens(terms)
        if self.spelling:
            all_words = np.concatenate([w.tokens for w in words.values()])
            stem_fn = self.analyzer_.stem_word if self.stem else None
            self.speller_ = SpellingCorrector().fit(all_words, stem=stem_fn)
        main = "title" if "title" in self.fields_ else self.fields_[0]
        self.main_field_ = main
        self.match_ = TextMatchFeatures().fit(terms[main], normalized[main])

    def _make_encoder(self) -> TextEncoder:
        if isinstance(self.encoder, str):
            if self.encoder != "minilm":
                raise ValidationError(
                    f"encoder must be 'minilm', a TextEncoder or None, got {self.encoder!r}"
                )
            return SentenceEncoder(cache_dir=self.cache_dir)
        return self.encoder

    # ============================================================ persist
    def _saved_params(self) -> dict[str, Any]:
        params = self.get_params()
        if not (isinstance(self.encoder, str) or self.encoder is None):
            params["encoder"] = "custom"  # an object: the caller passes it again to load
        return params

    def _get_state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.dense_ is not None:
            out["embeddings"] = self.dense_.embeddings_
        if self.fusion_ is not None:
            out["fusion_weights"] = np.asarray(self.fusion_.weights_, np.float64)
        for c in self.item_features_.columns:
            out[f"item_features.{c}"] = self.item_features_[c].to_numpy(np.float64)
        return out

    def _meta(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields_),
            "fusion_columns": getattr(self, "fusion_columns_", None),
            "item_features": list(self.item_features_.columns),
        }

    def _save_files(self, folder: Path) -> None:
        atomic_write_parquet(folder / "items.parquet", self.items_)
        for name in ("reranker", "regressor"):
            model = getattr(self, f"{name}_")
            if model is not None:
                model.save(folder / name)

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        # the lexical index needs the items, read by _load_files (called next)
        self._loaded = (arrays, meta)

    def _load_files(self, folder: Path) -> None:
        arrays, meta = self._loaded
        del self._loaded
        self.fields_ = list(meta["fields"])
        self._fit_lexical(pd.read_parquet(folder / "items.parquet"))
        self.dense_ = None
        if "embeddings" in arrays:
            # the encoder is attached by load() (a custom one is passed again by the caller)
            self.dense_ = DenseIndex(None).fit_embeddings(arrays["embeddings"])
        self.item_features_ = pd.DataFrame(
            {c: arrays[f"item_features.{c}"] for c in meta["item_features"]},
            index=range(len(self.items_)),
        )
        self.fusion_ = None
        if "fusion_weights" in arrays:
            self.fusion_ = LinearFusion()
            self.fusion_.weights_ = arrays["fusion_weights"]
            self.fusion_columns_ = meta["fusion_columns"]
        self.reranker_ = self.regressor_ = None
        if (folder / "reranker" / "model.json").is_file():
            self.reranker_ = LambdaMARTReranker.load(folder / "reranker")
        if (folder / "regressor" / "model.json").is_file():
            self.regressor_ = RelevanceRegressor.load(folder / "regressor")

    @classmethod
    def load(cls, path: str | Path, encoder: TextEncoder | None = None) -> SearchEngine:  # type: ignore[override]
        """Read an engine written by :meth:`save` (no code is executed from the files).

        An engine saved with a custom encoder needs that ``encoder`` again to embed queries.
        """
        path = Path(path)
        if (path / "engine.json").is_file() and not (path / "model.json").is_file():
            raise ValidationError(
                f"{path} holds a search engine saved by an older shopml (engine.json): "
                "retrain it with this version (`shopml train search` or the search pipeline)"
            )
        if (path / "model.json").is_file():
            doc = read_json(path / "model.json")
            custom = doc.get("format") == FORMAT and doc["params"].get("encoder") == "custom"
            if custom and encoder is None:
                raise ValidationError(
                    f"{path} was saved with a custom encoder: pass encoder= to load"
                )
        model = super().load(path)
        if encoder is not None:
            model.encoder = encoder
        if model.dense_ is not None:
            model.dense_.encoder = model._make_encoder()
        return model

    @classmethod
    def _contract_example(cls) -> tuple[SearchEngine, dict, dict]:
        """A 12-item catalogue without a sentence encoder (the contract test needs no network)."""
        words = ["cordless drill", "claw hammer", "garden hose", "led light bulb", "pvc pipe"]
        items = pd.DataFrame(
            {
                "item_id": [f"i{i}" for i in range(12)],
                "title": [f"{words[i % 5]} model {i}" for i in range(12)],
                "price": np.arange(12, dtype=float) + 5.0,
            }
        )
        engine = cls(encoder=None).fit(items)
        return engine, {"query": "cordles drill"}, {"query": "  "}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        res = self.search(inputs["query"], k=5)
        return {
            "items": res["item_id"].to_numpy(str),
            "score": res["score"].to_numpy(),
            "corrected_query": np.asarray([res.attrs["corrected_query"]]),
        }

    def _check_items(self, items: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(items, pd.DataFrame) or "item_id" not in items.columns:
            raise ValidationError("items must be a DataFrame with an item_id column")
        if items["item_id"].duplicated().any():
            dup = items.loc[items["item_id"].duplicated(), "item_id"].iloc[0]
            raise ValidationError(f"items has duplicate item_id values, e.g. {dup!r}")
        if len(items) == 0:
            raise ValidationError("items is empty: nothing to index")
        if self.fields is not None:
            missing = [f for f in self.fields if f not in items.columns]
            if missing:
                raise ValidationError(f"items lacks the text fields {missing}")
            fields = list(self.fields)
        else:
            fields = [f for f in TEXT_FIELDS if f in items.columns and items[f].notna().any()]
        if not fields:
            raise ValidationError(
                f"items has no text to index: none of {list(TEXT_FIELDS)} holds text"
            )
        self.fields_ = fields
        return items

    def _dense_texts(self) -> list[str]:
        # the title carries what a product is; brand and category disambiguate it
        parts = [f for f in ("title", "brand", "category") if f in self.fields_] or self.fields_[:1]
        text = self.items_[parts[0]].fillna("").astype(str)
        for f in parts[1:]:
            extra = self.items_[f].fillna("").astype(str)
            text = text.where(extra == "", text + " | " + extra)
        return text.tolist()

    def _item_features(self, events: pd.DataFrame | None) -> pd.DataFrame:
        out = pd.DataFrame(index=range(len(self.items_)))
        if "price" in self.items_.columns and self.items_["price"].notna().any():
            out["price"] = np.log1p(self.items_["price"].astype(float).clip(lower=0))
        if events is not None and len(events):
            if not {"item_id", "event_type"} <= set(events.columns):
                raise ValidationError("events must have item_id and event_type columns")
            ev = events[events["item_id"].notna()]
            idx = self.item_index_.get_indexer(ev["item_id"].astype(str))
            ev = ev.assign(_i=idx)[idx >= 0]
            n = len(self.items_)
            count = np.bincount(ev["_i"], minlength=n)
            out["popularity"] = np.log1p(count)
            views = np.bincount(ev.loc[ev["event_type"] == "view", "_i"], minlength=n)
            clicks = np.bincount(ev.loc[ev["event_type"] == "click", "_i"], minlength=n)
            if views.sum() > 0 and clicks.sum() > 0:
                # smoothed towards the catalogue-wide rate so a few views say little
                prior = clicks.sum() / views.sum()
                out["ctr"] = (clicks + 10 * prior) / (views + 10)
        return out

    # ============================================================ queries
    def prepare(self, queries: Sequence[str]) -> QueryBatch:
        """Analyse, spelling-correct and embed queries."""
        self._check_fitted()
        if isinstance(queries, str):
            raise ValidationError("prepare takes a list of queries; use search() for one query")
        texts = [str(q) for q in queries]
        words = self.analyzer_.words(texts)
        corrected = np.zeros(len(texts), bool)
        fixes: dict[str, list[str]] = {}
        if self.spelling and len(words.tokens):
            fixes = self.speller_.corrections(words.tokens)
            if fixes:
                hit = pd.Series(words.tokens).isin(fixes.keys()).to_numpy()
                corrected[np.unique(words.doc[hit])] = True
                words = words.expand(fixes)
        terms = self.analyzer_.stem_tokens(words)
        lists = words.lists()
        corrected_text = [" ".join(w) for w in lists]
        emb = None
        if self.dense_ is not None:
            emb = self.dense_.encode_queries(_apply_fixes(texts, fixes))
        return QueryBatch(
            texts, terms, self.bm25_.query_matrix(terms), corrected, corrected_text, emb
        )

    def retrieve(
        self, qb: QueryBatch, depth: int | None = None, mask: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Top-``depth`` item indices per query from each retriever ({"bm25": ..., "dense": ...})."""
        depth = depth or self.depth
        out = {"bm25": self.bm25_.search(qb.matrix, depth, mask=mask)[0]}
        if self.dense_ is not None:
            out["dense"] = self.dense_.search(qb.embeddings, depth, mask=mask)[0]
        return out

    def candidates(self, lists: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The union of the retrievers' lists as (query index, item index) pairs, sorted."""
        parts = []
        for lst in lists.values():
            q = np.repeat(np.arange(lst.shape[0]), lst.shape[1])
            parts.append(np.stack([q, lst.ravel()], axis=1))
        pairs = np.concatenate(parts)
        pairs = np.unique(pairs[pairs[:, 1] >= 0], axis=0)
        return pairs[:, 0], pairs[:, 1]

    def features(
        self,
        qb: QueryBatch,
        q_idx: np.ndarray,
        d_idx: np.ndarray,
        lists: Mapping[str, np.ndarray] | None = None,
        reference: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Features of (query, item) pairs.

        Relative features compare an item with the best of its query's ``reference`` rows
        (a boolean mask over the pairs; default all of them).
        """
        q_idx = np.asarray(q_idx, dtype=np.int64)
        d_idx = np.asarray(d_idx, dtype=np.int64)
        if lists is None:
            lists = self.retrieve(qb)
        f = {"bm25": self.bm25_.score_pairs(qb.matrix, q_idx, d_idx)}
        if len(self.fields_) > 1:
            for field in self.fields_:
                f[f"bm25_{field}"] = self.bm25_.score_pairs(qb.matrix, q_idx, d_idx, field)
        if self.dense_ is not None:
            f["dense"] = self.dense_.similarity_pairs(qb.embeddings, q_idx, d_idx).astype(
                np.float64
            )
        ranks = {}
        for name, lst in lists.items():
            # catalogue rank from the retriever's list; beyond the list = depth + 1
            r = _rank_lookup(lst, q_idx, d_idx)
            ranks[name] = r
            f[f"{name}_rank"] = np.where(np.isfinite(r), r, lst.shape[1] + 1.0)
        f["rrf"] = rrf_pairs(np.stack(list(ranks.values()), axis=1), self.rrf_k)
        frame = pd.DataFrame(f)
        # relative to the best of the query's reference set (the retrieved candidates), so that
        # rows added only for training do not change the features of the others
        ref = np.ones(len(q_idx), bool) if reference is None else np.asarray(reference, bool)
        n_q = len(qb)
        best = np.full(n_q, -np.inf)
        np.maximum.at(best, q_idx[ref], frame["bm25"].to_numpy()[ref])
        frame["bm25_rel"] = _safe_div(frame["bm25"], pd.Series(best[q_idx]))
        if "dense" in frame:
            best_d = np.full(n_q, -np.inf)
            np.maximum.at(best_d, q_idx[ref], frame["dense"].to_numpy()[ref])
            frame["dense_gap"] = frame["dense"].to_numpy() - np.where(
                np.isfinite(best_d[q_idx]), best_d[q_idx], frame["dense"].to_numpy()
            )
        frame["set_size"] = np.bincount(q_idx[ref], minlength=n_q)[q_idx].astype(np.float64)
        match = self.match_.transform(qb.terms, qb.corrected_text, q_idx, d_idx)
        frame = pd.concat([frame, match], axis=1)
        frame["corrected"] = qb.corrected[q_idx].astype(np.float64)
        for c in self.item_features_.columns:
            frame[c] = self.item_features_[c].to_numpy()[d_idx]
        return frame

    # ============================================================ ranking
    def grades(self, relevance: np.ndarray) -> np.ndarray:
        """Integer grades for the re-ranker from judged relevance."""
        gain = np.maximum(np.asarray(relevance, np.float64) - self.relevance_floor, 0.0)
        return np.rint(gain * self.grade_scale).astype(np.int64)

    def gains(self, relevance: np.ndarray) -> np.ndarray:
        """NDCG gains from judged relevance."""
        return np.maximum(np.asarray(relevance, np.float64) - self.relevance_floor, 0.0)

    def training_frame(self, judgements: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Candidates plus judged items of each judged query, featurised (see :meth:`pair_frame`)."""
        self._check_fitted()
        queries, jq, jd, rel = self.judged_pairs(judgements)
        qb = self.prepare(queries)
        return self.pair_frame(qb, self.retrieve(qb), jq, jd, rel)

    def judged_pairs(
        self, judgements: pd.DataFrame
    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Judgements as (unique queries, query codes, item indices, relevance); unknown items dropped."""
        need = {"query", "item_id", "relevance"}
        if not isinstance(judgements, pd.DataFrame) or not need <= set(judgements.columns):
            raise ValidationError(f"judgements must be a DataFrame with columns {sorted(need)}")
        d = self.item_index_.get_indexer(judgements["item_id"].astype(str))
        if (d < 0).all():
            raise ValidationError("no judged item_id is in the indexed catalogue")
        j = judgements[d >= 0]
        queries = pd.Index(pd.unique(j["query"].astype(str)))
        q = queries.get_indexer(j["query"].astype(str))
        return queries.tolist(), q, d[d >= 0], j["relevance"].to_numpy(np.float64)

    def pair_frame(
        self,
        qb: QueryBatch,
        lists: Mapping[str, np.ndarray],
        jq: np.ndarray,
        jd: np.ndarray,
        relevance: np.ndarray,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Featurise the retrieved candidates plus the judged pairs (``jq``, ``jd``, ``relevance``).

        Returns (features, pairs): ``pairs`` has the query code ``q``, item index ``d``,
        ``relevance`` (NaN = unjudged), ``judged`` and ``retrieved`` of each row, sorted by query.
        Only retrieved rows may be ranked at evaluation time: the judged-but-not-retrieved rows
        are there to train on.
        """
        cq, cd = self.candidates(lists)
        pairs = pd.DataFrame(
            {
                "q": np.concatenate([cq, jq]),
                "d": np.concatenate([cd, jd]),
                "retrieved": np.r_[np.ones(len(cq), bool), np.zeros(len(jq), bool)],
            }
        )
        pairs = pairs.groupby(["q", "d"], as_index=False, sort=True)["retrieved"].max()
        rel = pd.DataFrame({"q": jq, "d": jd, "relevance": relevance})
        pairs = pairs.join(rel.groupby(["q", "d"])["relevance"].mean(), on=["q", "d"])
        pairs["judged"] = pairs["relevance"].notna()
        retrieved = pairs["retrieved"].to_numpy(bool)
        X = self.features(qb, pairs["q"].to_numpy(), pairs["d"].to_numpy(), lists, retrieved)
        return X, pairs

    def fit_ranker(self, judgements: pd.DataFrame) -> SearchEngine:
        """Learn fusion weights, the LambdaMART re-ranker and the relevance regressor."""
        X, pairs = self.training_frame(judgements)
        return self.fit_ranker_frame(
            X, pairs["q"].to_numpy(), pairs["relevance"].to_numpy(), pairs["judged"].to_numpy()
        )

    def fit_ranker_frame(
        self,
        X: pd.DataFrame,
        group: np.ndarray,
        relevance: np.ndarray,
        judged: np.ndarray,
        parts: Sequence[str] = ("fusion", "rerank", "regressor"),
        near_only: bool = True,
    ) -> SearchEngine:
        """Fit the learned scorers on a featurised frame (see :meth:`training_frame`).

        Unjudged candidates count as not relevant. With ``near_only`` (a frame of retrieved
        candidates), fusion and re-ranker train on the candidates within ``train_depth`` of some
        retriever's list: the top of the lists is where ranking is decided. The cut never looks
        at labels: keeping judged items beyond it would teach "deep in the list = relevant",
        since only judged items would be there. The regressor learns from every judged row.
        """
        unknown = set(parts) - {"fusion", "rerank", "regressor"}
        if unknown:
            raise ValidationError(f"unknown parts {sorted(unknown)}; use fusion, rerank, regressor")
        group = np.asarray(group)
        judged = np.asarray(judged, bool)
        relevance = np.asarray(relevance, np.float64)
        if "regressor" in parts and judged.any():
            self.regressor_ = RelevanceRegressor(seed=self.seed).fit(
                X[judged], relevance[judged]
            )
        if near_only:
            rank_cols = [c for c in ("bm25_rank", "dense_rank") if c in X]
            keep = np.flatnonzero(X[rank_cols].min(axis=1).to_numpy() <= self.train_depth)
            X, group, judged, relevance = X.iloc[keep], group[keep], judged[keep], relevance[keep]
        if len(X) == 0:
            raise ValidationError("no training rows: no candidate is within train_depth")
        rel = np.where(judged, relevance, self.relevance_floor)  # unjudged: not relevant
        if "fusion" in parts:
            cols = ["bm25", "dense"] if "dense" in X else ["bm25"]
            self.fusion_ = LinearFusion().fit(X[cols].to_numpy(), group, self.gains(rel))
            self.fusion_columns_ = cols
        if "rerank" in parts:
            params = {
                "seed": self.seed,
                "n_estimators": 150,
                "learning_rate": 0.1,
                "min_child_samples": 100,
            } | dict(self.ranker_params or {})
            grades = self.grades(rel)
            params.setdefault("max_label", int(max(grades.max(), 1)))
            self.reranker_ = LambdaMARTReranker(**params).fit(X, grades, group)
        return self

    def score(self, X: pd.DataFrame, group: np.ndarray, method: str = "rerank") -> np.ndarray:
        """Scores of featurised pairs by one of the scorers."""
        if method not in METHODS:
            raise ValidationError(f"method must be one of {METHODS}, got {method!r}")
        if method in ("bm25", "dense", "rrf"):
            if method not in X:
                raise ValidationError(
                    f"method {method!r} needs a dense encoder (encoder=None was set)"
                )
            return X[method].to_numpy(dtype=np.float64)
        if method == "fusion":
            if self.fusion_ is None:
                raise ValidationError("method 'fusion' needs judgements: call fit_ranker first")
            return self.fusion_.predict(X[self.fusion_columns_].to_numpy(), group)
        if self.reranker_ is None:
            raise ValidationError("method 'rerank' needs judgements: call fit_ranker first")
        return self.reranker_.predict(X)

    def default_method(self) -> str:
        if getattr(self, "reranker_", None) is not None:
            return "rerank"
        return "rrf" if self.dense_ is not None else "bm25"

    # ============================================================= search
    def search(
        self,
        query: str,
        k: int = 10,
        filters: Mapping[str, Any] | None = None,
        method: str | None = None,
        explain: bool = False,
    ) -> pd.DataFrame:
        """The best ``k`` items for ``query``: item_id, title, score, rank and the features.

        ``filters`` keeps items whose column equals a value, is in a list/set, or lies in a
        ``(low, high)`` range (either end may be None). ``explain`` adds each feature's
        contribution to the re-ranker's score (``contrib_*`` columns, SHAP values by LightGBM).
        The corrected query (normalised words after spelling correction) is in
        ``result.attrs["corrected_query"]`` and ``result.attrs["corrected"]`` says whether
        spelling changed it; both come from this call alone (no state is kept between calls).
        """
        if not isinstance(query, str) or not query.strip():
            raise ValidationError(f"query must be a non-empty string, got {query!r}")
        res, qb = self._search([query], k, filters, method, explain)
        res = res.drop(columns=["query_idx"]).reset_index(drop=True)
        res.attrs = {
            "query": query,
            "corrected_query": qb.corrected_text[0],
            "corrected": bool(qb.corrected[0]),
        }
        return res

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        filters: Mapping[str, Any] | None = None,
        method: str | None = None,
        explain: bool = False,
    ) -> pd.DataFrame:
        """:meth:`search` for many queries at once (a ``query_idx`` column tells them apart;
        ``result.attrs["corrected_queries"]`` lists each query's corrected text)."""
        res, qb = self._search(list(queries), k, filters, method, explain)
        res.attrs = {"corrected_queries": list(qb.corrected_text)}
        return res

    def _search(
        self,
        queries: list[str],
        k: int,
        filters: Mapping[str, Any] | None,
        method: str | None,
        explain: bool,
    ) -> tuple[pd.DataFrame, QueryBatch]:
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}")
        method = method or self.default_method()
        mask = self.filter_mask(filters)
        qb = self.prepare(list(queries))
        lists = self.retrieve(qb, max(self.depth, k), mask)
        # single-retriever methods rank their own list only
        single = method == "bm25" or (method == "dense" and self.dense_ is not None)
        q_idx, d_idx = self.candidates({method: lists[method]} if single else lists)
        X = self.features(qb, q_idx, d_idx, lists)
        score = self.score(X, q_idx, method)
        order = np.lexsort((-score, q_idx))
        q_sorted = q_idx[order]
        rank = np.arange(len(order)) - np.searchsorted(q_sorted, q_sorted)
        keep = order[rank < k]
        out = pd.DataFrame(
            {
                "query_idx": q_idx[keep],
                "rank": rank[rank < k] + 1,
                "item_id": self.item_index_[d_idx[keep]],
                "title": self.items_[self.main_field_].to_numpy()[d_idx[keep]],
                "score": score[keep],
            }
        )
        feats = X.iloc[keep].reset_index(drop=True)
        if explain and method == "rerank":
            contrib = self.reranker_.booster_.predict(
                feats[self.reranker_.feature_names_].astype(np.float32), pred_contrib=True
            )
            names = [f"contrib_{c}" for c in self.reranker_.feature_names_] + ["contrib_bias"]
            feats = pd.concat([feats, pd.DataFrame(contrib, columns=names)], axis=1)
        return pd.concat([out, feats], axis=1), qb

    def filter_mask(self, filters: Mapping[str, Any] | None) -> np.ndarray | None:
        """Boolean mask over items from ``{column: value | list | (low, high)}`` filters."""
        if not filters:
            return None
        mask = np.ones(len(self.items_), bool)
        for col, cond in filters.items():
            if col not in self.items_.columns:
                raise ValidationError(
                    f"filter on unknown column {col!r}; items have {list(self.items_.columns)}"
                )
            s = self.items_[col]
            if isinstance(cond, tuple):
                if len(cond) != 2:
                    raise ValidationError(
                        f"range filter on {col!r} must be (low, high), got {cond!r}"
                    )
                lo, hi = cond
                ok = s.notna().to_numpy()
                if lo is not None:
                    ok &= (s >= lo).to_numpy()
                if hi is not None:
                    ok &= (s <= hi).to_numpy()
            elif isinstance(cond, list | set | frozenset | np.ndarray):
                ok = s.isin(list(cond)).to_numpy()
            else:
                ok = (s == cond).to_numpy()
            mask &= ok
        return mask


def _rank_lookup(lst: np.ndarray, q_idx: np.ndarray, d_idx: np.ndarray) -> np.ndarray:
    """1-based rank of item ``d_idx[i]`` in list row ``q_idx[i]``; inf where not listed."""
    n_q, depth = lst.shape
    rows = np.repeat(np.arange(n_q), depth)
    ok = lst.ravel() >= 0
    m = sp.csr_matrix(
        (np.tile(np.arange(1, depth + 1), n_q)[ok].astype(np.float64), (rows[ok], lst.ravel()[ok])),
        shape=(n_q, max(int(lst.max(initial=-1)), int(d_idx.max(initial=-1))) + 1),
    )
    return pair_lookup(m, q_idx, d_idx, default=np.inf)


def _safe_div(a: pd.Series, b: pd.Series) -> np.ndarray:
    a, b = a.to_numpy(np.float64), b.to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / b, 0.0)


def _apply_fixes(texts: list[str], fixes: Mapping[str, list[str]]) -> list[str]:
    """Raw query texts with misspelled words replaced (for the sentence encoder)."""
    if not fixes or not texts:
        return texts
    words = "|".join(map(re.escape, sorted(fixes, key=len, reverse=True)))
    pattern = re.compile(rf"\b({words})\b", re.IGNORECASE)
    joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    fixed = pattern.sub(lambda m: " ".join(fixes.get(m.group(0).lower(), [m.group(0)])), joined)
    return fixed.split("\x00")
