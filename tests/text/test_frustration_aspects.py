import numpy as np
import pandas as pd

from shopml.text.aspects import product_aspects, split_sentences
from shopml.text.frustration import frustration_flags


def test_flags_from_cues_and_sentiment():
    texts = [
        "This is RIDICULOUS, I want my money back NOW!!!",
        "I am so disappointed, the lamp stopped working after a week.",
        "I need it urgently, my order is still not here after two weeks",
        "Thanks, the parcel arrived fine.",
    ]
    f = frustration_flags(texts, sentiment=np.array([-0.9, -0.7, -0.3, 0.8]))
    assert f["anger_flag"].tolist() == [True, False, False, False]
    assert f["disappointment_flag"].tolist() == [False, True, False, False]
    assert f["urgency_flag"].tolist() == [False, False, True, False]
    assert "ridiculous" in f.at[0, "cues"]
    assert f.loc[3, ["anger", "disappointment", "urgency"]].sum() == 0


def test_aspects_per_product_from_ratings():
    reviews = pd.DataFrame(
        {
            "item_id": ["a"] * 4 + ["b"] * 2,
            "rating": [5, 5, 1, 2, 5, 1],
            "text": [
                "The battery lasts for days. Shipping was quick.",
                "Battery life is superb.",
                "The strap broke. Battery ok though.",
                "The strap is flimsy and cheap.",
                "Lovely smell.",
                "The smell is too strong.",
            ],
        }
    )
    out = product_aspects(reviews, min_count=2)
    a = out[out["item_id"] == "a"]
    praise = a[a["side"] == "praise"].set_index("aspect")
    complaint = a[a["side"] == "complaint"].set_index("aspect")
    assert praise.loc["battery", "count"] == 2
    assert complaint.loc["strap", "count"] == 2
    assert "strap" not in praise.index
    assert any("strap" in s.lower() for s in complaint.loc["strap", "examples"])
    assert len(split_sentences(reviews["text"])) == 8
