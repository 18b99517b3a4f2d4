import numpy as np
import torch

from shopml.core.seed import seed_everything


def test_seed_everything_is_reproducible():
    a = seed_everything(3).random(3), torch.rand(2)
    b = seed_everything(3).random(3), torch.rand(2)
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    assert not np.array_equal(seed_everything(4).random(3), a[0])
