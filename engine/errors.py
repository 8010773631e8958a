"""Engine exceptions, split into the environment's fault and ours.

    EngineError                  base; the UI shows its message calmly
    ├── BackendUnavailable       an optional library is missing (names the extra to install)
    ├── ModelNotFound            a spec resolves to nothing on disk / in the HF cache
    ├── ModelLoadError           weights exist but could not be loaded (wraps the library error)
    ├── DimensionError           requested output dimension outside the model's range
    └── RemoteError              a remote endpoint failed or answered nonsense

Anything else escaping the engine is a bug and deserves a traceback.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base for failures caused by the environment, not by Quarry's code."""


class BackendUnavailable(EngineError):
    """The backend's library is not installed; the message names the pip extra."""


class ModelNotFound(EngineError):
    """No weights for the requested spec; the message says what to download and where."""


class ModelLoadError(EngineError):
    """The weights were found but the backend could not load or run them."""


class DimensionError(EngineError, ValueError):
    """The requested embedding dimension is outside the model's supported range."""


class RemoteError(EngineError):
    """A remote embedding/rerank endpoint failed, timed out or answered malformed data."""
