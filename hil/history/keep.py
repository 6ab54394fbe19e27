"""Where a run record goes when the history refuses it: the first folder that takes it.

A session's measurements exist only in its run record until the history stores them, so a
refused run is written to the first of several folders that can be written (the folder pytest
ran in, the system's temporary folder, the home folder) instead of being lost with a
traceback when the first is read-only. The JSON escapes what is not UTF-8 (a test id from a
file name that is not UTF-8), so any record can be written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hil.files import write_atomic


def keep_run_record(data: dict, folders: Iterable[Path]) -> tuple[Path | None, list[str]]:
    """Write ``data`` as ``hil-run-RUN_ID.json`` into the first folder that takes it; the
    path (None when none did) and why each folder before it did not."""
    text = json.dumps(data, indent=1, default=str) + "\n"
    name = f"hil-run-{_safe(str(data.get('session', {}).get('run_id', 'unknown')))}.json"
    refused = []
    for folder in folders:
        try:
            return write_atomic(Path(folder) / name, text), refused
        except OSError as exc:
            refused.append(f"{folder}: {exc.strerror or exc}")
    return None, refused


def fallback_folders(first: Path) -> list[Path]:
    """``first``, then the system's temporary folder, then the home folder."""
    return [first, Path(tempfile.gettempdir()), Path(os.path.expanduser("~"))]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100]
