"""Finding the network a command line names.

``--model`` takes a saved torch module (``net.pt``), or a callable that builds one:
``package.module:function`` or ``path/to/file.py:function``.

A ``.pt`` file is data: it is unpickled with ``weights_only=True`` and only torch's and sinabs'
own classes allowed, so a crafted file cannot run code (``torch.load`` with
``weights_only=False`` runs whatever the pickle says). A module or ``.py`` file is code by
intent: it runs, as any Python file the user runs would.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import warnings
from functools import cache
from pathlib import Path

import torch

from hil.files import unreadable_file

SAVE_SAFELY = (
    "save the network with torch.save(net, PATH) using only torch and sinabs layers, or save "
    "net.state_dict() and give a builder (file.py:function) that loads it with "
    "torch.load(PATH, weights_only=True)"
)


class ModelError(ValueError):
    """A model reference that does not lead to a torch module."""


def load_model(reference: str) -> torch.nn.Module:
    if reference.endswith((".pt", ".pth")):
        return _checked(load_saved(Path(reference)), reference)
    target, _, name = reference.rpartition(":")
    if not target or not name:
        raise ModelError(f"{reference}: expected FILE.pt, module:function or file.py:function")
    module = _load_file(Path(target)) if target.endswith(".py") else _import(target)
    builder = getattr(module, name, None)
    if not callable(builder):
        offered = sorted(
            key for key, value in vars(module).items() if callable(value) and key[0] != "_"
        )
        raise ModelError(
            f"{reference}: {target} has no callable {name!r} "
            f"(it has: {', '.join(offered) or 'none'})"
        )
    _check_no_arguments(builder, reference)
    try:
        model = builder()
    except (Exception, SystemExit) as exc:  # user code: a sys.exit() is an error too
        raise ModelError(f"{reference}: the builder raised {_described(exc)}") from None
    return _checked(model, reference)


def load_saved(path: Path) -> object:
    """What a ``torch.save`` file holds, unpickled without running any code from it."""
    problem = unreadable_file(path)
    if problem:
        raise ModelError(f"{path}: {problem}")
    try:
        with torch.serialization.safe_globals(list(safe_classes())), warnings.catch_warnings():
            # torch warns on stderr that it may not read a newer pickle protocol and asks for
            # an issue to be filed: the refusal below says what matters, in one line.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, weights_only=True, map_location="cpu")
    except torch.serialization.pickle.UnpicklingError as exc:
        raise ModelError(f"{path}: refused: {_unsafe_reason(exc)}; {SAVE_SAFELY}") from None
    except Exception as exc:  # torch raises many kinds for a file that is no checkpoint
        raise ModelError(f"{path}: not a saved torch module ({_described(exc)})") from None


@cache
def safe_classes() -> frozenset[type]:
    """The classes a saved network may be made of: torch's layers and sinabs' layers and
    activations (their state is plain tensors and numbers; unpickling them runs no code of
    the file's choosing)."""
    import sinabs.activation
    import sinabs.layers

    classes = {torch.nn.Parameter, torch.Size}
    for module in (torch.nn, sinabs.layers, sinabs.activation):
        for name in dir(module):
            value = getattr(module, name)
            if inspect.isclass(value) and value.__module__.startswith(("torch.", "sinabs.")):
                classes.add(value)
    return frozenset(classes)


def _unsafe_reason(exc: Exception) -> str:
    text = str(exc)
    for line in text.splitlines():
        if "Unsupported global" in line or "GLOBAL" in line:
            global_name = line.split("GLOBAL", 1)[-1].strip().split(" ")[0]
            return (
                f"the file needs {global_name} to load, which is not a torch or sinabs class "
                "(loading it would run code the file names)"
            )
    # torch's own first lines suggest weights_only=False, which is what must not happen here;
    # what the unpickler stopped at follows "WeightsUnpickler error:".
    detail = text.partition("WeightsUnpickler error:")[2].strip() or text
    first = detail.splitlines()[0] if detail else type(exc).__name__
    return f"the file cannot be loaded as plain data (torch's safe loader: {first})"


def _load_file(path: Path) -> object:
    problem = unreadable_file(path)
    if problem:
        raise ModelError(f"{path}: {problem}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ModelError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # user code: a sys.exit() is an error too
        raise ModelError(f"{path}: running the file raised {_described(exc)}") from None
    return module


def _import(name: str) -> object:
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise ModelError(
            f"{name}: syntax error in {exc.filename}:{exc.lineno}: {exc.msg}"
        ) from None
    except ImportError as exc:
        file = Path(*name.split(".")).with_suffix(".py")
        hint = f"; for the file {file} here, write {file}:FUNCTION" if file.is_file() else ""
        raise ModelError(f"cannot import {name!r}: {exc}{hint}") from None
    except (Exception, SystemExit) as exc:  # user code: a sys.exit() is an error too
        raise ModelError(f"{name}: importing it raised {_described(exc)}") from None


def _check_no_arguments(builder: object, reference: str) -> None:
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):
        return
    required = [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        raise ModelError(
            f"{reference}: the builder needs arguments ({', '.join(required)}); give a "
            "function that builds the network with no arguments"
        )


def _described(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _checked(model: object, reference: str) -> torch.nn.Module:
    if isinstance(model, dict) and all(isinstance(v, torch.Tensor) for v in model.values()):
        raise ModelError(
            f"{reference}: holds a state dict (weights only), not a network; give a builder "
            "(file.py:function) that creates the network and loads these weights"
        )
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"{reference}: gave a {type(model).__name__}, not a torch module")
    return model
