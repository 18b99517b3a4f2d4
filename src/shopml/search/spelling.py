"""Query spelling correction learned from the catalogue's own words.

A query word that the catalogue never uses is replaced by the catalogue word nearest to it in
restricted Damerau-Levenshtein distance (transpositions count as one edit), ties broken by how
often the catalogue uses it: ``"drlil"`` -> ``"drill"``. A word that is two catalogue words run
together is split (``"showerhead"`` -> ``"shower head"``). Candidates come from a symmetric-delete
index (SymSpell, Garbe 2012): every string reachable from a catalogue word by deleting up to
``max_distance`` letters points back to the word, so a lookup only generates the deletes of the
query word instead of comparing it with the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search.analyzer import Tokens


def _deletes(word: str, depth: int) -> set[str]:
    """Every string made by deleting 1..``depth`` letters of ``word``."""
    out: set[str] = set()
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))} - out
        out |= frontier
    return out


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Restricted Damerau-Levenshtein (optimal string alignment) distance between two words.

    With ``limit``, any distance above it may be reported as ``limit + 1`` (an early exit).
    """
    if a == b:
        return 0
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class SpellingCorrector:
    """Correct query words towards the catalogue's vocabulary.

    Parameters
    ----------
    max_distance : int
        Largest edit distance of a correction (words of up to ``short_length`` letters get 1).
    min_length : int
        Words shorter than this are never corrected (too many neighbours to choose well).
    short_length : int
        Words up to this length are corrected by at most one edit.
    min_count : int
        A catalogue word is a correction target only if it occurs at least this often.
    split : bool
        Split a word into two catalogue words when no single edit fixes it.
    """

    def __init__(
        self,
        max_distance: int = 2,
        min_length: int = 3,
        short_length: int = 4,
        min_count: int = 1,
        split: bool = True,
    ) -> None:
        if max_distance not in (1, 2, 3):
            raise ValidationError(f"max_distance must be 1, 2 or 3, got {max_distance!r}")
        self.max_distance = max_distance
        self.min_length = min_length
        self.short_length = short_length
        self.min_count = min_count
        self.split = split

    def fit(
        self, words: Tokens | Iterable[str], stem: Callable[[str], str] | None = None
    ) -> SpellingCorrector:
        """Learn the vocabulary and its counts from the catalogue's (unstemmed) words.

        With ``stem`` (the analyser's stemmer), a query word whose stem the catalogue uses is
        left alone: "caulking" is not a typo when the catalogue says "caulk".
        """
        toks = words.tokens if isinstance(words, Tokens) else np.asarray(list(words), dtype=object)
        if len(toks) == 0:
            raise ValidationError("SpellingCorrector.fit needs at least one word, got none")
        counts = pd.Series(toks, dtype=object).value_counts()
        self.counts_: dict[str, int] = counts.to_dict()
        # targets: alphabetic words (never "correct" into a model number or a size)
        targets = counts[
            (counts >= self.min_count)
            & counts.index.str.fullmatch(r"[a-z]+")
            & (counts.index.str.len() >= 2)
        ]
        index: dict[str, list[str]] = {}
        for w in targets.index:
            index.setdefault(w, []).append(w)
            for d in _deletes(w, self.max_distance):
                index.setdefault(d, []).append(w)
        self._index = index
        self._stem = stem
        self._stems = {stem(w) for w in self.counts_} if stem is not None else set()
        self.n_words_ = len(targets)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise NotFittedError("SpellingCorrector is not fitted: call fit(words) first")

    def correct_word(self, word: str) -> list[str]:
        """The correction of one lower-case word as a list of words (itself if nothing better)."""
        self._check_fitted()
        if word in self.counts_ or len(word) < self.min_length or not word.isalpha():
            return [word]
        if self._stem is not None and self._stem(word) in self._stems:
            return [word]
        limit = 1 if len(word) <= self.short_length else self.max_distance
        cands: set[str] = set()
        for d in {word} | _deletes(word, limit):
            cands.update(self._index.get(d, ()))
        best: tuple[int, int, str] | None = None  # (distance, -count, word) smallest wins
        for c in cands:
            dist = edit_distance(word, c, limit)
            if dist <= limit:
                key = (dist, -self.counts_[c], c)
                if best is None or key < best:
                    best = key
        if best is not None and best[0] == 1:
            return [best[2]]
        if self.split:
            halves = self._best_split(word)
            if halves is not None:
                return halves
        return [best[2]] if best is not None else [word]

    def _best_split(self, word: str) -> list[str] | None:
        best, best_count = None, 0
        for i in range(2, len(word) - 1):
            left, right = word[:i], word[i:]
            count = min(self.counts_.get(left, 0), self.counts_.get(right, 0))
            if count > best_count:
                best, best_count = [left, right], count
        return best

    def corrections(self, words: Iterable[str]) -> dict[str, list[str]]:
        """The words among ``words`` that change, mapped to their corrections."""
        self._check_fitted()
        out = {}
        for w in pd.unique(pd.Series(list(words), dtype=object)):
            c = self.correct_word(w)
            if c != [w]:
                out[w] = c
        return out

    def correct(self, tokens: Tokens) -> Tokens:
        """Correct a corpus of query words in long form (each unique word is looked up once)."""
        return tokens.expand(self.corrections(tokens.tokens))

    def correct_text(self, words: list[str]) -> list[str]:
        """Correct one query's word list."""
        fixes = self.corrections(words)
        return [x for w in words for x in fixes.get(w, [w])]
