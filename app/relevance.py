"""Where relevance ends, and how relevant a result reads, from a model's calibration.

Rules (the calibration is ``engine.registry.RelevanceCalibration``, measured per model on
labelled queries by ``benchmarks/calibrate.py``):

- a file holding every query term (in its text, heading path or name), or the quoted
  phrase, always qualifies: keywords do not guess;
- a file found by meaning alone qualifies when its best passage's cosine clears the
  model's ``floor`` and lies within ``margin`` of the best file's cosine; the rest are
  *weak*, shown only on request ("Show weaker matches");
- a file without any vector yet (two-phase indexing: keywords found it, phase 2 has not
  embedded it) cannot be judged by meaning, so it is shown: hiding it would make a fresh
  or paused index look empty;
- ``probability`` turns (cosine, share of terms held) into P(relevant) with the model's
  logistic weights; ``level_of`` reads any probability, calibrated or the reranker's
  P(yes), as High (>= 0.5: more likely relevant than not), Medium (>= 0.2) or Low.

A model without calibration (not measured yet) cuts nothing off and shows no level:
guessing a floor for it would hide results for no measured reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.results import Level
from engine.registry import RelevanceCalibration

HIGH = 0.5
MEDIUM = 0.2


@dataclass(frozen=True)
class Evidence:
    """What is known about one file when the first stage ranks it."""

    cosine: float | None  # best passage's cosine to the query (None: no vectors)
    coverage: float  # share of query terms held by its best-covered passage
    phrase: bool = False  # the query had a quoted phrase (every result holds it)

    @property
    def keyword_match(self) -> bool:
        """Every term, or the phrase: a match that needs no calibration."""
        return self.phrase or self.coverage >= 1.0


@dataclass(frozen=True)
class Verdict:
    """How one file is shown."""

    weak: bool
    relevance: float | None
    level: Level | None


def probability(evidence: Evidence, calibration: RelevanceCalibration) -> float | None:
    """Calibrated P(relevant) for the file; None without a cosine."""
    if evidence.cosine is None:
        return None
    z = (
        calibration.intercept
        + calibration.cosine_weight * evidence.cosine
        + calibration.coverage_weight * evidence.coverage
    )
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def level_of(p: float | None) -> Level | None:
    """High / Medium / Low for a probability; None for none."""
    if p is None:
        return None
    return "high" if p >= HIGH else "medium" if p >= MEDIUM else "low"


def judge(evidence: Sequence[Evidence], calibration: RelevanceCalibration | None) -> list[Verdict]:
    """A verdict per file: weak or not, and its calibrated relevance."""
    if calibration is None:
        return [Verdict(False, None, None) for _ in evidence]
    cosines = [e.cosine for e in evidence if e.cosine is not None]
    best = max(cosines, default=0.0)
    out = []
    for e in evidence:
        by_meaning = (
            e.cosine is not None
            and e.cosine >= calibration.floor
            and e.cosine >= best - calibration.margin
        )
        unjudged = e.cosine is None  # no vector yet: nothing to measure it against
        p = probability(e, calibration)
        out.append(Verdict(not (e.keyword_match or by_meaning or unjudged), p, level_of(p)))
    return out
