"""Finding the network a command line names.

``--model`` takes a saved torch module (``net.pt``), or a callable that builds one:
``package.module:function`` or ``path/to/file.py:function``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import torch


class ModelError(ValueError):
    """A model reference that does not lead to a torch module."""


def load_model(reference: str) -> torch.nn.Module:
    if reference.endswith((".pt", ".pth")):
        return _checked(_load_saved(Path(reference)), reference)
    target, _, name = reference.rpartition(":")
    if not target or not name:
        raise ModelError(f"{reference}: expected FILE.pt, module:function or file.py:function")
    module = _load_file(Path(target)) if target.endswith(".py") else _import(target)
    builder = getattr(module, name, None)
    if not callable(builder):
        raise ModelError(f"{reference}: {target} has no callable {name!r}")
    return _checked(builder(), reference)


def _load_saved(path: Path) -> object:
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        return torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # torch raises many kinds for a bad file
        raise ModelError(f"{path}: not a saved torch module ({exc})") from None


def _load_file(path: Path) -> object:
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ModelError(f"cannot import {name!r}: {exc}") from None


def _checked(model: object, reference: str) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"{reference}: gave a {type(model).__name__}, not a torch module")
    return model
