"""Which samna is installed, found without importing it.

Importing the PyPI ``samna`` placeholder runs ``pip install`` against SynSense's index and
rewrites the environment (or fails offline), so the answer comes from the installed files:
real samna ships compiled extension modules; the placeholder ships one ``__init__.py`` that
sets ``PYPI_SAMNA = True`` and names the index its installer would use.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PLACEHOLDER_MARK = "PYPI_SAMNA = True"
EXTENSION_SUFFIXES = (*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd", ".dylib")
_INDEX_URL = re.compile(r"""__gitlab_packages_index_url__\s*=\s*\(?\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class SamnaInstall:
    """What ``import samna`` would find.

    ``install_command`` is set for the placeholder: the pip command that installs the real
    samna of the same version, to run on a lab machine with access to SynSense's index.
    """

    kind: Literal["real", "placeholder", "none"]
    version: str | None = None
    location: Path | None = None
    install_command: str | None = None


def detect_samna(path: list[str] | None = None) -> SamnaInstall:
    """Inspect the samna that ``import samna`` would load from ``path`` (default
    ``sys.path``). A samna module that is neither recognisably real nor the placeholder
    counts as real, so that it is never shadowed; a bare directory without code (left behind
    by an uninstall) counts as none."""
    spec = importlib.machinery.PathFinder.find_spec("samna", path)
    if spec is None:
        return SamnaInstall("none")
    if spec.submodule_search_locations:
        location = Path(next(iter(spec.submodule_search_locations)))
        files = [file for file in location.rglob("*") if file.is_file()]
    else:
        location = Path(str(spec.origin))
        files = [location]
    version = _version(location.parent)
    if any(file.name.endswith(EXTENSION_SUFFIXES) for file in files):
        return SamnaInstall("real", version, location)
    if spec.origin is None:
        return SamnaInstall("none", version, location)
    if not spec.origin.endswith(".py"):
        return SamnaInstall("real", version, location)
    text = Path(spec.origin).read_text(encoding="utf-8", errors="replace")
    if PLACEHOLDER_MARK in text:
        return SamnaInstall("placeholder", version, location, _install_command(text, version))
    return SamnaInstall("real", version, location)


def _version(directory: Path) -> str | None:
    """The version of the samna distribution installed into ``directory``, from its metadata."""
    for distribution in importlib.metadata.distributions(name="samna", path=[str(directory)]):
        return distribution.version
    return None


def _install_command(placeholder_text: str, version: str | None) -> str | None:
    match = _INDEX_URL.search(placeholder_text)
    if match is None or version is None:
        return None
    return f"pip install --force-reinstall samna=={version} --index-url={match.group(1)}"
