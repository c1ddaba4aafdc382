"""The engine's one error base class.

Every error the engine raises for bad input, a missing or corrupt file or a model that does not
fit (``CheckpointError``, ``EmbeddingError``, ``BranchError``, ``EditError``, ``VectorError``, ...)
subclasses :class:`EngineError`, whose message is written for the person who asked. Callers (the
CLI, the webapp's jobs) catch this one class. Torch-free, so web processes may import it.
"""

from __future__ import annotations


class EngineError(ValueError):
    """Bad input to the engine, or a file or model it cannot use; the message says what to fix."""
