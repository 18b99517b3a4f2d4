"""DCN-v2: the predictor contract, the cross layer formula, low rank, and learning a feature
cross both stacked and parallel."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from shopml.core.errors import ValidationError
from shopml.predict.dcn import CrossNetV2, DCNv2Classifier, DCNv2Net
from tests.predict.contract import PredictorContract
from tests.predict.test_deepfm import cross_frame


class TestDCNv2Parallel(PredictorContract):
    explain_exact = False

    def _get_model(self):
        return DCNv2Classifier(
            embedding_dim=4,
            cross_layers=2,
            hidden=(16,),
            epochs=25,
            batch_size=64,
            lr=5e-3,
            patience=5,
            seed=0,
        )


def test_cross_layer_formula():
    torch.manual_seed(0)
    net = CrossNetV2(5, n_layers=2)
    x0 = torch.randn(3, 5)
    w1, w2 = net.layers
    x1 = x0 * w1(x0) + x0
    torch.testing.assert_close(net(x0), x0 * w2(x1) + x1)


def test_low_rank_has_fewer_weights():
    full = sum(p.numel() for p in CrossNetV2(64, 3).parameters())
    low = sum(p.numel() for p in CrossNetV2(64, 3, low_rank=8).parameters())
    assert low == 3 * (64 * 8 + 8 * 64 + 64) and low < full


def test_numeric_only_and_categorical_only_inputs():
    num, cat = torch.randn(4, 3), torch.randint(0, 5, (4, 2))
    assert DCNv2Net([], 3)(num, cat[:, :0]).shape == (4,)
    assert DCNv2Net([5, 5], 0, structure="stacked")(num[:, :0], cat).shape == (4,)


@pytest.mark.parametrize(
    "kw",
    [{"structure": "parallel"}, {"structure": "stacked", "low_rank": 4}],
    ids=["parallel", "stacked-low-rank"],
)
def test_learns_a_feature_cross(kw):
    X, y = cross_frame(2000, 0)
    Xt, yt = cross_frame(1000, 1)
    m = DCNv2Classifier(
        embedding_dim=4,
        cross_layers=2,
        hidden=(16,),
        epochs=12,
        batch_size=128,
        lr=2e-2,
        patience=None,
        seed=0,
        **kw,
    )
    assert roc_auc_score(yt, m.fit(X, y).predict_proba(Xt)) > 0.72  # Bayes-optimal: about 0.785


def test_bad_structure_is_named():
    X, y = cross_frame(100, 0)
    with pytest.raises(ValidationError, match="structure"):
        DCNv2Classifier(structure="diagonal", epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="low_rank"):
        DCNv2Classifier(low_rank=0, epochs=1).fit(X, y)
    assert np.isfinite(DCNv2Classifier(epochs=1).fit(X, y).predict_proba(X)).all()
