"""Fixtures of the hostile-input suite: a quarry CLI runner (checks: tests.hostile.checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.runner import Quarry


@pytest.fixture
def quarry(quarry_home: Path, tmp_path: Path, starter_model_dir: Path) -> Quarry:
    """The quarry CLI with its own home (the test's QUARRY_HOME) and the starter model."""
    return Quarry(home=quarry_home, model=starter_model_dir, logs=tmp_path / "logs")
