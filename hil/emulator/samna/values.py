"""Coercion of the values callers assign to samna-style fields.

sinabs assigns torch 0-d tensors, numpy integers, nested lists and whole tensors; samna's C++
bindings accept them as plain integers. Coercing on assignment keeps every stored value a
plain Python/numpy integer, and refuses what would otherwise be mangled silently: a fraction
truncated to an integer, or the string ``"False"`` read as true.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

_INT64_LIMIT = 2**63


def as_int(value: object, name: str) -> int:
    """``value`` as an int; a whole-number float is accepted, a fraction is not."""
    number = _scalar(value, name)
    if isinstance(number, Integral):
        return int(number)
    if isinstance(number, Real) and float(number).is_integer():
        return int(number)
    raise TypeError(f"{name} must be an integer; got {value!r}")


def as_bool(value: object, name: str) -> bool:
    """``value`` as a bool; numbers and 0-d tensors are accepted, strings are not."""
    number = _scalar(value, name)
    if isinstance(number, Real):
        return bool(number)
    raise TypeError(f"{name} must be a bool; got {value!r}")


def as_int_array(value: object, name: str, ndim: int) -> np.ndarray:
    """``value`` (nested lists, tensor, array) as an int64 array of ``ndim`` dimensions.

    An empty value gives an empty array: that is how an unconfigured core holds no weights.
    """
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
        if array.dtype == object:
            array = np.asarray(_nested_ints(value, name))
    except ValueError:
        raise TypeError(f"{name} must be a rectangular {ndim}-d array of integers") from None
    if array.size == 0:
        return np.zeros((0,) * ndim, dtype=np.int64)
    if array.ndim != ndim:
        raise TypeError(f"{name} must have {ndim} dimensions; got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array) & (array == np.round(array))):
            raise TypeError(f"{name} must hold integers; got fractional values")
    elif array.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers; got dtype {array.dtype}")
    if array.dtype.kind in "uf" and np.abs(array).max() >= _INT64_LIMIT:
        raise TypeError(f"{name} holds integers too large for the chip")
    return array.astype(np.int64)


def _scalar(value: object, name: str) -> object:
    """Unwrap a 0-d tensor or numpy scalar into a Python number."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, RuntimeError):
            raise TypeError(f"{name} must be a single number; got {value!r}") from None
    return value


def _nested_ints(value: object, name: str) -> object:
    if isinstance(value, (list, tuple)):
        return [_nested_ints(item, name) for item in value]
    return as_int(value, name)
