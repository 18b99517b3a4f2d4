"""What customers praise and complain about, per product: aspect phrases from review sentences.

Reviews are split into sentences; each sentence gets a sentiment score from a model (or from the
review's stars when no model is given). Candidate aspects are the words and two-word phrases
that occur in at least ``min_count`` sentences of a product, minus stop words and opinion words
(``great``, ``bad``: they say how, not what). For each product and aspect the counts of positive
and negative sentences are one sparse matrix product (sentences x terms, transposed, times the
polarity indicators per product); the examples are the most polar sentences that mention it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import ValidationError

OPINION_WORDS = frozenset(
    """good great love loved loves like liked nice best better excellent awesome amazing perfect
    wonderful fantastic happy recommend recommended favorite favourite bad worst terrible awful
    horrible poor hate hated disappointed disappointing okay ok fine really just very product
    item thing things bought buy buying purchase purchased use used using order ordered star stars
    review would could also get got one will well much even still little lot bit way make made
    time works work worked don doesn didn isn wasn""".split()
)

_SENT_SPLIT = r"(?<=[.!?])\s+|\n+"


def split_sentences(texts: pd.Series) -> pd.DataFrame:
    """One row per non-empty sentence: ``doc`` (position in ``texts``) and ``sentence``."""
    parts = texts.fillna("").astype(str).str.split(_SENT_SPLIT, regex=True).explode()
    parts = parts.str.strip()
    parts = parts[parts.str.len() > 2]
    return pd.DataFrame({"doc": parts.index.to_numpy(), "sentence": parts.to_numpy()})


def product_aspects(
    reviews: pd.DataFrame,
    model: object | None = None,
    min_count: int = 2,
    top: int = 5,
    examples: int = 2,
    threshold: float = 0.25,
) -> pd.DataFrame:
    """Per item, the top praised and complained-about aspects.

    ``reviews`` needs ``item_id`` and ``text`` (and ``rating`` when no ``model`` is given: the
    review's stars then stand for each of its sentences). Returns rows ``item_id, aspect, side
    (praise | complaint), count, share (of the aspect's polar mentions), examples``.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    for col in ("item_id", "text"):
        if col not in reviews.columns:
            raise ValidationError(f"reviews need a {col!r} column")
    reviews = reviews.reset_index(drop=True)
    sents = split_sentences(reviews["text"])
    cols = ["item_id", "aspect", "side", "count", "share", "examples"]
    if sents.empty:
        return pd.DataFrame(columns=cols)
    if model is not None:
        score = np.asarray(model.score(sents["sentence"].tolist()), float)
    elif "rating" in reviews.columns:
        r = reviews["rating"].to_numpy(float)[sents["doc"].to_numpy()]
        score = np.nan_to_num((r - 3) / 2)
    else:
        raise ValidationError("give a sentiment model or reviews with a 'rating' column")
    stop = ENGLISH_STOP_WORDS | OPINION_WORDS
    vec = CountVectorizer(
        ngram_range=(1, 2),
        stop_words=list(stop),
        binary=True,
        token_pattern=r"(?u)\b[a-z][a-z]+\b",
        min_df=min_count,
    )
    try:
        X = vec.fit_transform(sents["sentence"].str.lower())
    except ValueError:  # nothing left after stop words
        return pd.DataFrame(columns=cols)
    terms = vec.get_feature_names_out()
    item_codes, items = pd.factorize(reviews["item_id"].astype(str))
    sent_item = item_codes[sents["doc"].to_numpy()]
    n_items = len(items)
    pos = (score >= threshold).astype(float)
    neg = (score <= -threshold).astype(float)
    # items x sentences indicator, weighted by polarity -> items x terms counts
    rows = np.arange(len(sents))
    P = sp.csr_matrix((pos, (sent_item, rows)), shape=(n_items, len(sents)))
    N = sp.csr_matrix((neg, (sent_item, rows)), shape=(n_items, len(sents)))
    pos_ct = (P @ X).toarray()
    neg_ct = (N @ X).toarray()
    out = []
    Xc = X.tocsc()
    for side, counts, sign in (("praise", pos_ct, 1), ("complaint", neg_ct, -1)):
        total = pos_ct + neg_ct
        # rank terms per item by count (ties: the more one-sided first); keep min_count
        order = np.argsort(-(counts + 1e-3 * counts / np.maximum(total, 1)), axis=1)[:, :top]
        for i in range(n_items):  # a loop over products (tens to thousands), not over rows
            for j in order[i]:
                c = counts[i, j]
                if c < min_count:
                    continue
                mention = Xc[:, j].indices
                mention = mention[(sent_item[mention] == i) & (sign * score[mention] >= threshold)]
                best = mention[np.argsort(-sign * score[mention])[:examples]]
                out.append(
                    (
                        items[i],
                        terms[j],
                        side,
                        int(c),
                        float(c / max(total[i, j], 1)),
                        sents["sentence"].to_numpy()[best].tolist(),
                    )
                )
    return pd.DataFrame(out, columns=cols)
