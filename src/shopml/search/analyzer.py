"""Text analysis for search: normalise units and numbers, tokenise, drop stop words, stem.

Product text writes one quantity many ways ("3/4 in.", "3/4 inch", "0.75\"", "1-1/2 ft." vs
"1.5 feet", "2x4"). The analyser rewrites them to one form before tokenising so that a query
and a title that mean the same size share tokens. Everything runs over a whole corpus at once:
regular expressions through pandas string methods, tokens in long (exploded) form, and the
stemmer only over the corpus's unique words.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.search.stemmer import check_stem, make_stemmer

# Small on purpose: product text has few function words, and "in"/"with" carry no meaning once
# inch units have been rewritten to "inch". "x" and "w" are dimension / "with" separators.
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or that the this to was "
    "were will with x w".split()
)

_NUM = r"(?:\d+(?:\.\d+)?)"


def _fraction(m: re.Match) -> str:
    whole = float(m.group("whole") or 0)
    num, den = float(m.group("num")), float(m.group("den"))
    if den == 0:
        return m.group(0)
    return " " + _format_number(whole + num / den) + " "


def _format_number(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")


def _decimal(m: re.Match) -> str:
    # "1.50" and "1.5" are the same number; ".75" is "0.75"
    return _format_number(float(m.group(0)))


# canonical unit (a regex group name) -> how product text writes it after a number
_UNITS: list[tuple[str, str]] = [
    ("inch", r"inches|inch|in\.|in\b|\"|''|”|″"),
    ("ft", r"feet|foot|ft\b\.?|'|’|′"),
    ("lb", r"pounds?|lbs?\b\.?"),
    ("gal", r"gallons?|gal\b\.?"),
    ("oz", r"(?:fl\.?\s*)?(?:ounces?|oz\b\.?)"),
    ("qt", r"quarts?|qt\b\.?"),
    ("pt", r"pints?|pt\b\.?"),
    ("mm", r"millimeters?|millimetres?|mm\b\.?"),
    ("cm", r"centimeters?|centimetres?|cm\b\.?"),
    ("volt", r"volts?\b|v\b\.?"),
    ("watt", r"watts?\b|w\b\.?"),
    ("amp", r"amps?\b|amperes?\b"),
    ("deg", r"degrees?\b|deg\b\.?|°"),
    ("gauge", r"gauge\b|ga\b\.?"),
    ("btu", r"btus?\b"),
]
_UNIT_WORDS = {
    **dict.fromkeys(["inch", "inches"], "inch"),
    **dict.fromkeys(["feet", "foot"], "ft"),
    **dict.fromkeys(["pound", "pounds", "lbs"], "lb"),
    **dict.fromkeys(["gallon", "gallons"], "gal"),
    **dict.fromkeys(["ounce", "ounces"], "oz"),
    **dict.fromkeys(["volt", "volts"], "volt"),
    **dict.fromkeys(["watt", "watts"], "watt"),
    **dict.fromkeys(["amp", "amps", "ampere", "amperes"], "amp"),
}

# (pattern, replacement) applied in order to lower-cased text; unit rules run after fractions
# became decimals, and require a number before an abbreviation that is also a word ("in", "ft").
_RULES: list[tuple[str, object]] = [
    (r"(?<=\d),(?=\d{3}\b)", ""),  # thousands separators: 1,500 -> 1500
    (r"\b(\d+)-in-(\d+)\b", r"\1in\2"),  # "3-in-1" is a name, not three inches
    # mixed numbers and fractions -> decimals: 1-1/2, 1 1/2 -> 1.5; 3/4 -> 0.75
    (r"(?<![\d./])(?:(?P<whole>\d+)[\s-]+)?(?P<num>\d+)/(?P<den>\d+)(?![\d/])", _fraction),
    (r"(?<![\d.])\d*\.\d+", _decimal),
    (rf"(?<![a-z0-9.])({_NUM})\s*(?:-\s*)?(?:x|\*|by)\s*(?=\d)", r"\1 x "),  # 2x4, 2 by 4 -> 2 x 4
    (r"\bsq(?:uare)?\.?\s*(?:ft|feet|foot)\b\.?", " sqft "),
    (r"\bcu(?:bic)?\.?\s*(?:ft|feet|foot)\b\.?", " cuft "),
    (r"\bsq(?:uare)?\.?\s*(?:in|inch|inches)\b\.?", " sqin "),
    # a number and its unit, all units in one pass: 3 in. / 3-inch / 3" -> "3 inch"
    (
        rf"(?<![a-z0-9.])({_NUM})\s*(?:-\s*)?(?:"
        + "|".join(f"(?P<{u}>{alt})" for u, alt in _UNITS)
        + ")",
        lambda m: f"{m.group(1)} {m.lastgroup} ",
    ),
    # unit words without a number ("inch pipe", "pounds") take the same canonical form
    (r"\b(?:" + "|".join(_UNIT_WORDS) + r")\b", lambda m: _UNIT_WORDS[m.group(0)]),
    (r"'s\b", ""),  # possessive: men's -> men
    (r"(?<=[a-z])'(?=[a-z])", ""),  # don't -> dont
]
_COMPILED = [(re.compile(p), r) for p, r in _RULES]
TOKEN_RE = r"\d+\.\d+|[a-z0-9]+"
_SEP = "\x00"


@dataclass(frozen=True)
class Tokens:
    """A corpus of token lists in long form: token ``tokens[j]`` belongs to document ``doc[j]``."""

    doc: np.ndarray  # int64, non-decreasing
    tokens: np.ndarray  # object array of str
    n_docs: int

    def lists(self) -> list[list[str]]:
        """One token list per document (empty lists for documents without tokens)."""
        bounds = np.searchsorted(self.doc, np.arange(self.n_docs + 1))
        toks = self.tokens.tolist()
        return [toks[s:e] for s, e in zip(bounds[:-1], bounds[1:], strict=True)]

    def map(self, mapping: dict[str, str]) -> Tokens:
        """Replace each token through ``mapping`` (tokens not in it are kept)."""
        # look up each distinct token once, then broadcast back by code
        codes, uniques = pd.factorize(self.tokens)
        mapped = np.array([mapping.get(u, u) for u in uniques] + [""], dtype=object)
        return Tokens(self.doc, mapped[codes], self.n_docs)

    def expand(self, mapping: dict[str, list[str]]) -> Tokens:
        """Replace tokens by lists of tokens (a spelling split "doorknob" -> "door", "knob")."""
        if not mapping:
            return self
        s = pd.Series(self.tokens, index=self.doc, dtype=object)
        hit = s.isin(mapping.keys())
        if not hit.any():
            return self
        out = s.where(~hit, s.map(mapping)).explode()
        return Tokens(out.index.to_numpy(np.int64), out.to_numpy(dtype=object), self.n_docs)


#: the most stems an analyser keeps cached (the catalogue's words and, up to this, query words)
MAX_CACHED_STEMS = 500_000


class Analyzer:
    """Lower-case, decode HTML entities, normalise units and numbers, tokenise, drop stop words, stem.

    Parameters
    ----------
    stem : "porter", "snowball", "s" or None
        The stemmer (Porter 1980, the Snowball stemmer of ``language``, Harman's S-stemmer, or
        none); see :mod:`shopml.search.stemmer`.
    units : bool
        Rewrite units and numbers to one form ("3/4 in." -> "0.75 inch").
    stopwords : iterable of str
        Words dropped after tokenising (compared before stemming).
    language : str
        The Snowball language for ``stem="snowball"`` ("english", "french", "german", ...).
    """

    def __init__(
        self,
        stem: str | None = "porter",
        units: bool = True,
        stopwords: Iterable[str] = STOPWORDS,
        language: str = "english",
    ) -> None:
        check_stem(stem, language)
        self.stem = stem
        self.units = units
        self.stopwords = frozenset(stopwords)
        self.language = language
        self._stemmer = make_stemmer(stem, language) if stem is not None else None
        self._stem_cache: dict[str, str] = {}

    def normalize(self, texts: Sequence[str | None] | pd.Series) -> pd.Series:
        """Lower-cased texts with units and numbers rewritten (missing texts become "")."""
        s = pd.Series(texts, dtype=object).fillna("").astype(str).reset_index(drop=True)
        if len(s) == 0:
            return s
        # one pass of each rule over the whole corpus joined into one string (C speed), with a
        # separator that no rule can match across (no rule spans a NUL byte)
        text = _SEP.join(s.str.replace("\x00", " ", regex=False)).lower()
        if "&" in text:
            text = html.unescape(text)
        if self.units:
            for pattern, repl in _COMPILED:
                text = pattern.sub(repl, text)
        out = text.split(_SEP)
        if len(out) != len(s):  # pragma: no cover - guarded by the NUL replacement above
            raise ValidationError("text normalisation changed the number of texts")
        return pd.Series(out, dtype=object)

    def words(self, texts: Sequence[str | None] | pd.Series) -> Tokens:
        """Normalised, tokenised texts without stop words, before stemming."""
        return self.words_of_normalized(self.normalize(texts))

    def words_of_normalized(self, s: pd.Series) -> Tokens:
        """:meth:`words` of texts :meth:`normalize` already gave (normalising costs the most)."""
        toks = s.str.findall(TOKEN_RE).explode().dropna()
        toks = toks[~toks.isin(self.stopwords)]
        return Tokens(toks.index.to_numpy(np.int64), toks.to_numpy(dtype=object), len(s))

    def stem_tokens(self, tokens: Tokens) -> Tokens:
        """Stem every token (numbers and words with digits are left as they are)."""
        if self.stem is None or len(tokens.tokens) == 0:
            return tokens
        return tokens.map(self._stems_of(pd.unique(tokens.tokens)))

    def _stems_of(self, words: Iterable[str]) -> dict[str, str]:
        """A mapping that holds the stem of every word in ``words``.

        Only the words not seen before are stemmed (a vocabulary is far smaller than its corpus).
        They join the cache in one update, so a concurrent search never sees a half-learned
        word, and only while the cache is below :data:`MAX_CACHED_STEMS` (query words would grow
        it without bound in a long-running server).
        """
        cache = self._stem_cache
        new = [w for w in words if w not in cache]
        if not new or self._stemmer is None:
            return cache
        plain = [w for w in new if not any(c.isdigit() for c in w)]
        learned = {w: w for w in new}  # words with digits (sizes, model numbers) stay as they are
        learned.update(zip(plain, self._stemmer(plain), strict=True))
        if len(cache) + len(learned) <= MAX_CACHED_STEMS:
            cache.update(learned)
            return cache
        return {**{w: cache[w] for w in words if w in cache}, **learned}

    def stem_word(self, word: str) -> str:
        """The stem of one word, as :meth:`stem_tokens` would give it."""
        if self._stemmer is None:
            return word
        return self._stems_of([word])[word]

    def tokens(self, texts: Sequence[str | None] | pd.Series) -> Tokens:
        """The full analysis in long form."""
        return self.stem_tokens(self.words(texts))

    def __call__(self, texts: Sequence[str | None] | pd.Series) -> list[list[str]]:
        """Token lists, one per text."""
        return self.tokens(texts).lists()

    def get_params(self) -> dict[str, object]:
        return {
            "stem": self.stem,
            "units": self.units,
            "stopwords": sorted(self.stopwords),
            "language": self.language,
        }
