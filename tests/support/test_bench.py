import pandas as pd

from shopml.benchmarks.support import held_out_intents, run

from .conftest import messages


def test_held_out_intents_are_fixed_and_named():
    _, y = messages()
    a, b = held_out_intents(y, 1, seed=0), held_out_intents(y, 1, seed=0)
    assert a == b and len(a) == 1
    assert held_out_intents(y, 3, seed=0) == []  # 5 intents: too few to hold 3 out


def test_support_bench_on_a_file(tmp_path):
    texts, y = messages(seed=4)
    path = tmp_path / "tickets.csv"
    pd.DataFrame({"msg": texts, "label": y}).to_csv(path, index=False)
    res = run(
        data=path,
        text_col="msg",
        label_col="label",
        models=["tfidf"],
        n_held_out=1,
        out=tmp_path / "s.json",
    )
    row = {r.model: r for r in res.rows}["tfidf"]
    assert row.metrics["accuracy"] > 0.9
    assert 0 <= row.metrics["oos_answered_share"] <= 1
    assert 0 <= row.metrics["oos_auroc"] <= 1
    assert "held out of training" in res.protocol
    assert (tmp_path / "s.md").exists()
