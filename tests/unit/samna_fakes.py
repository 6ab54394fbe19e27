"""Fake samna installs: a placeholder like PyPI's, or a "real" one with compiled modules.

Importing a fake's ``__init__`` writes a marker file, so a test can prove it was never imported.
"""

import textwrap
from pathlib import Path

INDEX_URL = "https://example.invalid/simple"


def fake_samna(root: Path, version: str, init_text: str, extra_files=()) -> Path:
    """A samna package plus its .dist-info; importing its __init__ writes a marker file."""
    package = root / "samna"
    package.mkdir(parents=True)
    marker = root / "IMPORTED"
    init = f"open({str(marker)!r}, 'w').close()\n" + init_text
    (package / "__init__.py").write_text(init)
    for name in extra_files:
        (package / name).write_bytes(b"\x7fELF")
    info = root / f"samna-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: samna\nVersion: {version}\n")
    files = ["samna/__init__.py", *(f"samna/{name}" for name in extra_files)]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return marker


PLACEHOLDER_TEXT = textwrap.dedent(
    f"""
    PYPI_SAMNA = True
    __gitlab_packages_index_url__ = (
        "{INDEX_URL}"
    )
    raise SystemExit("the placeholder would now run pip")
    """
)
