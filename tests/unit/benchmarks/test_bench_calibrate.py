"""The relevance calibration's floor search reaches a model whose cosines crowd high."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.fixtures.benchmarks import import_benchmark


@pytest.fixture
def calibrate(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_benchmark(monkeypatch, "calibrate")


def test_a_narrow_band_of_cosines_gets_a_floor_inside_it(calibrate: ModuleType) -> None:
    """E5-like: relevant files at 0.86-0.87, irrelevant ones at 0.80-0.85, an off-topic
    query's best file at 0.81. Keeping every relevant file and nothing else needs a floor
    above 0.81 and a margin of at most 0.01 (the old grid stopped at 0.79 and 0.05)."""
    Row = calibrate.Row
    rows = [
        Row(0, 0, 0.87, 0.5, True, 1),
        Row(0, 1, 0.85, 0.5, False, 1),
        Row(0, 2, 0.80, 0.0, False, 1),
        Row(1, 0, 0.86, 0.5, True, 1),
        Row(1, 1, 0.84, 0.0, False, 1),
        Row(2, 0, 0.81, 0.0, False, 0),
    ]
    floor, margin, (recall, wrong, shown) = calibrate.choose(rows, 0.0)
    assert 0.81 < floor <= 0.86 and margin <= 0.01
    assert recall == 1.0 and wrong == 0.0
    assert shown == pytest.approx(2 / 3)  # one file for each of the two real queries
