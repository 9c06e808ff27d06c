import numpy as np
import pytest


def observed_orders(errors, ratio=2.0):
    """Observed convergence orders log(e_k / e_{k+1}) / log(ratio) between successive resolutions."""
    e = np.asarray(errors, dtype=float)
    return np.log(e[:-1] / e[1:]) / np.log(ratio)


@pytest.fixture
def orders():
    return observed_orders
