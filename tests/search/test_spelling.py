import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search.analyzer import Analyzer
from shopml.search.spelling import SpellingCorrector, edit_distance
from shopml.search.stemmer import porter_stem

CATALOGUE = [
    "cordless drill with battery",
    "hammer drill 20 volt",
    "claw hammer steel",
    "phillips screwdriver set",
    "toilet seat white",
    "toilet flange",
    "ceiling fan with light",
    "ceiling light fixture",
    "table lamp",
    "desk lamp",
    "floor lamp",
    "lump hammer",
    "caulk gun",
    "silicone caulk",
]


@pytest.fixture(scope="module")
def speller() -> SpellingCorrector:
    words = Analyzer().words(CATALOGUE)
    return SpellingCorrector().fit(words, stem=porter_stem)


@pytest.mark.parametrize(
    ("typo", "fixed"),
    [
        ("drlil", ["drill"]),  # transposition: one edit
        ("hamer", ["hammer"]),  # deletion
        ("screwdrivr", ["screwdriver"]),
        ("scrwedriver", ["screwdriver"]),
        ("celing", ["ceiling"]),
        ("ceilnig", ["ceiling"]),
        ("toiletseat", ["toilet", "seat"]),  # run-together words are split
        ("cordlss", ["cordless"]),
    ],
)
def test_typos_are_fixed(speller, typo, fixed):
    assert speller.correct_word(typo) == fixed


def test_frequency_breaks_ties(speller):
    # "lemp" is one edit from "lamp" (3 times) and from "lump" (once)
    assert speller.correct_word("lemp") == ["lamp"]


def test_known_short_numeric_and_stem_known_words_stay(speller):
    assert speller.correct_word("drill") == ["drill"]
    assert speller.correct_word("xq") == ["xq"]  # too short to guess
    assert speller.correct_word("20v") == ["20v"]  # sizes and model numbers are not words
    assert speller.correct_word("caulking") == ["caulking"]  # its stem "caulk" is in the catalogue
    assert speller.correct_word("zzzzzzzz") == ["zzzzzzzz"]  # nothing near: left alone


def test_short_words_get_one_edit_only(speller):
    assert speller.correct_word("lmp") == ["lamp"]
    assert speller.correct_word("lxmx") == ["lxmx"]  # two edits from "lamp", too short


def test_correct_text_and_corpus(speller):
    assert speller.correct_text(["cordlss", "drlil", "toiletseat"]) == [
        "cordless", "drill", "toilet", "seat",
    ]  # fmt: skip
    toks = Analyzer().words(["hamer drlil", "desk lmp"])
    assert speller.correct(toks).lists() == [["hammer", "drill"], ["desk", "lamp"]]


def test_edit_distance():
    assert edit_distance("abcd", "acbd") == 1  # adjacent transposition
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("same", "same") == 0
    assert edit_distance("abcdef", "a", limit=2) == 3  # capped


def test_not_fitted_and_empty():
    with pytest.raises(NotFittedError):
        SpellingCorrector().correct_word("x")
    with pytest.raises(ValidationError, match="at least one word"):
        SpellingCorrector().fit([])
    with pytest.raises(ValidationError, match="max_distance"):
        SpellingCorrector(max_distance=5)
