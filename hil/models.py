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
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    with _as_a_script(Path(target) if target.endswith(".py") else None):
        module = _load_file(Path(target)) if target.endswith(".py") else _import(target)
        builder = getattr(module, name, None)
        return _built(builder, module, target, name, reference)


def _built(builder: object, module: object, target: str, name: str, reference: str):
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


@contextmanager
def _as_a_script(path: Path | None) -> Iterator[None]:
    """Run a model file's code as ``python file.py`` would: its folder first on the import
    path (so it imports its sibling modules). A child it forks never comes back into the
    harness (it would run the rest of the command a second time): it ends here."""
    pid = os.getpid()
    folder = str(path.resolve().parent) if path is not None else None
    if folder is not None:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if os.getpid() != pid:
            os._exit(0)
        if folder is not None and folder in sys.path:
            sys.path.remove(folder)


def load_saved(path: Path) -> object:
    """What a ``torch.save`` file holds, unpickled without running any code from it."""
    problem = unreadable_file(path)
    if problem:
        raise ModelError(f"{path}: {problem}")
    try:
        with torch.serialization.safe_globals(list(_guarded_globals())), warnings.catch_warnings():
            # torch warns on stderr that it may not read a newer pickle protocol and asks for
            # an issue to be filed: the refusal below says what matters, in one line.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, weights_only=True, map_location="cpu")
    except torch.serialization.pickle.UnpicklingError as exc:
        raise ModelError(f"{path}: refused: {_unsafe_reason(exc)}; {SAVE_SAFELY}") from None
    except ModelTooLarge as exc:
        raise ModelError(f"{path}: refused: {exc}") from None
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


#: The most parameter and buffer elements a module a file constructs may have (1 GiB of
#: float32): a crafted file can call ``Linear(10**6, 10**6)`` in a few bytes.
MAX_MODULE_ELEMENTS = 1 << 28


class ModelTooLarge(Exception):
    """A module constructor a file calls would allocate more than the loader allows."""


@cache
def _guarded_globals() -> tuple:
    """``safe_classes`` for torch's safe unpickler, each module class behind a guard: a file
    that calls a constructor (``torch.save`` never does; it rebuilds modules from their state)
    has the module built on the meta device first, and refused when its parameters exceed
    ``MAX_MODULE_ELEMENTS``, before any memory is taken for them. Each class is also allowed
    under a name no file uses, so the instances the guard returns may be given their state."""
    allowed = []
    for cls in safe_classes():
        if inspect.isclass(cls) and issubclass(cls, torch.nn.Module):
            with warnings.catch_warnings():  # subclassing a deprecated layer warns
                warnings.simplefilter("ignore")
                guard = _guard(cls)
            allowed.append((guard, f"{cls.__module__}.{cls.__qualname__}"))
            allowed.append((cls, f"hil.models.allowed.{cls.__module__}.{cls.__qualname__}"))
        else:
            allowed.append(cls)
    return tuple(allowed)


def _guard(cls: type) -> type:
    def new(_guard_cls, *args, **kwargs):
        if not args and not kwargs:  # NEWOBJ: an empty module, its state follows
            return cls.__new__(cls)
        with torch.device("meta"):
            try:
                probe = cls(*args, **kwargs)
            except Exception:
                probe = None
        if probe is not None:
            elements = sum(t.numel() for t in [*probe.parameters(), *probe.buffers()])
            if elements > MAX_MODULE_ELEMENTS:
                raise ModelTooLarge(
                    f"the file constructs {cls.__name__} with {elements:,} parameters, more "
                    f"than the {MAX_MODULE_ELEMENTS:,} a loaded module may have"
                )
        return cls(*args, **kwargs)

    return type(cls.__name__, (cls,), {"__new__": new, "__module__": cls.__module__})


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
