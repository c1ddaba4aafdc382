"""Every error class the engine defines derives from the one base class its callers catch."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import editing_engine
from editing_engine.errors import EngineError
from editing_engine.progress import Cancelled


def engine_exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in a module of the engine package."""
    found = []
    for info in pkgutil.walk_packages(editing_engine.__path__, "editing_engine."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_engine_error_is_an_engine_error() -> None:
    classes = engine_exception_classes()
    names = {cls.__name__ for cls in classes}
    assert {"CheckpointError", "EmbeddingError", "BranchError", "EditError", "VectorError"} <= names

    # Cancelled is a request to stop, not an error.
    strays = [cls.__name__ for cls in classes if not issubclass(cls, EngineError) and cls is not Cancelled]
    assert strays == []


def test_engine_errors_stay_value_errors() -> None:
    assert issubclass(EngineError, ValueError)
