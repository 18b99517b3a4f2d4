import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.core.vocab import Vocab


def test_encode_decode_roundtrip_and_order_of_first_appearance():
    v = Vocab(["b", "a", "b", 3])
    assert v.ids.tolist() == ["b", "a", "3"]
    codes = v.encode(["a", "3", "b"])
    assert codes.dtype == np.int32 and codes.tolist() == [1, 2, 0]
    assert v.decode(codes).tolist() == ["a", "3", "b"]


def test_unknown_ids_raise_or_give_minus_one():
    v = Vocab(["x"])
    with pytest.raises(ValidationError, match="unknown ids"):
        v.encode(["y"])
    assert v.encode(["y", "x"], strict=False).tolist() == [-1, 0]
    with pytest.raises(ValidationError):
        v.decode([5])


def test_extend_and_save_load(tmp_path):
    v = Vocab(["a"])
    assert v.extend(["b", "a", "c"]).tolist() == [1, 0, 2]
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").ids.tolist() == ["a", "b", "c"]
