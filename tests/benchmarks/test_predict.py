"""The ``predict`` benchmark suite, task clv, on the CDNOW sample (quick mode)."""

import json

import pytest

from shopml.benchmarks.runner import get_suite
from shopml.core.errors import ValidationError
from shopml.data.loaders import get_loader

needs_cdnow = pytest.mark.skipif(
    not get_loader("cdnow-sample").found(), reason="CDNOW not in the data directory"
)


@needs_cdnow
def test_clv_suite_compares_models_with_the_peer_on_the_published_split(tmp_path):
    run = get_suite("predict")
    res = run(dataset="cdnow-sample", quick=True)  # the CLI's call: task defaults to clv
    rows = {r.model: r for r in res.rows}
    assert list(rows) == [
        "shopml BG/NBD",
        "shopml seasonal BG/NBD",
        "lifetimes BetaGeoFitter",
        "LightGBM RFM (poisson)",
        "naive rate",
    ]
    assert [r.model for r in res.rows if r.peer] == ["lifetimes BetaGeoFitter"]
    ours, peer = rows["shopml BG/NBD"], rows["lifetimes BetaGeoFitter"]
    assert ours.params["r"] == pytest.approx(0.243, rel=0.01)
    for m in ("mae", "rmse", "predicted_total"):
        assert ours.metrics[m] == pytest.approx(peer.metrics[m], rel=1e-4)
    # 1,882 purchase days by the 2,357 customers in the 39-week holdout, whatever the model
    assert {r.metrics["actual_total"] for r in res.rows} == {1882.0}
    assert ours.metrics["mae"] < rows["naive rate"].metrics["mae"]
    # the regressor never saw the holdout: its training pair ends at the calibration cutoff
    assert rows["LightGBM RFM (poisson)"].extra["train_cutoff"] < "1997-09-30"
    out = res.write(tmp_path / "predict_clv_cdnow-sample.json")
    assert json.loads(out.read_text())["rows"][0]["model"] == "shopml BG/NBD"
    assert "| shopml BG/NBD |" in out.with_suffix(".md").read_text()


def test_unknown_task_is_named():
    with pytest.raises(ValidationError, match="unknown predict task .no-such-task."):
        get_suite("predict")(dataset="cdnow-sample", task="no-such-task")
