import numpy as np
import pytest


def observed_orders(errors, ratio=2.0):
    """Observed convergence orders log(e_k / e_{k+1}) / log(ratio) between successive resolutions."""
    e = np.asarray(errors, dtype=float)
    return np.log(e[:-1] / e[1:]) / np.log(ratio)


@pytest.fixture
def orders():
    return observed_orders


def interrupt_advance(monkeypatch, cls, at_call: int):
    """Make ``cls.advance`` raise KeyboardInterrupt (Ctrl-C) on its ``at_call``-th call; returns
    the function that puts the original back."""
    original = cls.advance
    calls = []

    def advance_then_interrupt(self, t_target):
        calls.append(t_target)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        original(self, t_target)

    monkeypatch.setattr(cls, "advance", advance_then_interrupt)
    return lambda: monkeypatch.setattr(cls, "advance", original)
