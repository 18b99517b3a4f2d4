import pytest

from shopml.core.errors import DataError, ValidationError
from shopml.text.io import read_labelled


def test_messy_file_is_reported_not_fatal(tmp_path):
    path = tmp_path / "tickets.csv"
    rows = [
        b"text,intent",
        b"where is my order,track_order",
        b",track_order",  # empty text
        b"   ,cancel_order",  # blank text
        b"caf\xe9 order wrong,complaint",  # latin-1 byte: not UTF-8
        b"cancel it please,",  # missing label
        b"I want a refund,get_refund",
    ]
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows) + b"\n")  # with a byte-order mark
    t = read_labelled(path, "text", label_col="intent")
    assert t.texts == ["where is my order", "I want a refund"]
    assert t.y.tolist() == ["track_order", "get_refund"]
    reasons = dict(zip(t.skipped["row"], t.skipped["reason"], strict=True))
    assert reasons == {
        3: "empty text",
        4: "empty text",
        5: "text is not valid UTF-8 (unknown encoding)",
        6: "missing label",
    }
    assert "4 skipped" in t.summary()


def test_ratings_and_errors(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("body\tstars\ngood\t5\nbad\tnone\nok\t3\n")
    t = read_labelled(path, "body", rating_col="stars")
    assert t.y.tolist() == [5.0, 3.0]
    assert t.skipped["reason"].tolist() == ["rating is not a number"]
    with pytest.raises(ValidationError, match="no column 'text'"):
        read_labelled(path, "text", rating_col="stars")
    with pytest.raises(ValidationError, match="exactly one"):
        read_labelled(path, "body")
    with pytest.raises(DataError, match="does not exist"):
        read_labelled(tmp_path / "nope.csv", "text", label_col="x")
    empty = tmp_path / "e.csv"
    empty.write_text("text,label\n,a\n")
    with pytest.raises(DataError, match="no usable rows"):
        read_labelled(empty, "text", label_col="label")
