"""Frustration flags for support triage: anger, disappointment, urgency.

Each flag is a score in [0, 1] from cue phrases (regular expressions over the lower-cased text,
counted for all texts at once with pandas' vectorised string methods) plus, for anger and
disappointment, the text's negativity from a sentiment model when one is given. A flag is raised
when its score reaches 0.5.

What can be evaluated: anger against Bitext's ``W`` (offensive) variation tag, and how often each
flag fires per intent (``complaint`` should lead). What cannot: disappointment and urgency have
no labelled data here, so their cue lists are a documented starting point, not a measured model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

FLAGS = ("anger", "disappointment", "urgency")

CUES: dict[str, tuple[str, ...]] = {
    "anger": (
        r"\b(?:ridiculous|unacceptable|outrageous|disgrac\w*|pathetic|useless|furious|angry|"
        r"mad at|fed up|sick of|worst|terrible|horrible|awful|scam|rip[- ]?off|liars?|incompetent|"
        r"joke|shame on)\b",
        r"\b(?:damn|crap|hell|wtf|f\W?\w*ing|shit\w*|bloody|stupid|idiots?)\b",
        r"!{2,}",
    ),
    "disappointment": (
        r"\b(?:disappoint\w*|let down|expected (?:more|better)|not as (?:described|expected)|"
        r"waste of (?:money|time)|regret|unhappy|not happy|dissatisfied|poor quality|"
        r"doesn'?t work|does not work|stopped working|broke\w*|never again)\b",
    ),
    "urgency": (
        r"\b(?:asap|urgent\w*|immediately|right now|right away|today|tonight|as soon as possible|"
        r"emergency|still (?:not|no|haven'?t|hasn'?t|waiting)|for (?:days|weeks)|"
        r"(?:\d+|two|three|several) (?:days|weeks) (?:ago|late|and)|deadline|hurry)\b",
    ),
}

_WEIGHT_CUE = 0.5  # one cue raises the flag; sentiment or a second cue adds to it


def _caps_shouting(s: pd.Series) -> np.ndarray:
    """Share of letters in capitals, for texts of at least 12 letters (shouting)."""
    letters = s.str.count(r"[A-Za-z]")
    upper = s.str.count(r"[A-Z]")
    return np.where(letters >= 12, upper / letters.clip(lower=1), 0.0)


def frustration_flags(
    texts: Sequence[str], sentiment: np.ndarray | None = None, threshold: float = 0.5
) -> pd.DataFrame:
    """One row per text: ``anger``, ``disappointment``, ``urgency`` scores and ``*_flag``s and
    the matched ``cues``.

    ``sentiment`` (optional, in [-1, 1], e.g. :meth:`SentimentModel.score`) adds negativity to
    anger and disappointment: a strongly negative text with one cue scores higher than a
    neutral one.
    """
    s = pd.Series(list(texts), dtype="string").fillna("")
    low = s.str.lower()
    neg = np.zeros(len(s)) if sentiment is None else np.clip(-np.asarray(sentiment, float), 0, 1)
    out = pd.DataFrame(index=range(len(s)))
    matched = pd.Series([""] * len(s), dtype="string")
    for flag, patterns in CUES.items():
        hits = np.zeros(len(s))
        for pat in patterns:
            found = low.str.findall(pat)
            n = found.str.len().fillna(0).to_numpy(float)
            hits += n
            has = n > 0
            words = found.str.join(", ").fillna("")
            matched = matched.where(~has, (matched + "; " + words).str.lstrip("; "))
        score = _WEIGHT_CUE * np.minimum(hits, 2)
        if flag == "anger":
            score += 0.5 * (_caps_shouting(s) > 0.6)
        if flag in ("anger", "disappointment"):
            score += 0.5 * neg * (hits > 0) + 0.25 * (neg > 0.8)
        out[flag] = np.clip(score, 0, 1)
        out[f"{flag}_flag"] = out[flag] >= threshold
    out["cues"] = matched.to_numpy()
    return out
