import numpy as np

from shopml.recommend.popularity import Popularity
from tests.recommend.contract import RecommenderContract, toy_interactions


class TestPopularity(RecommenderContract):
    learns_personal_taste = False

    def _get_model(self):
        return Popularity()


def test_window_counts_only_recent():
    df, _ = toy_interactions()
    full = Popularity().fit(df)
    recent = Popularity(window_days=0.5).fit(df)
    assert recent.popularity_.sum() < full.popularity_.sum()
    assert np.all(recent.popularity_ <= full.popularity_)
