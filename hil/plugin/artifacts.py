"""Per-test artifacts: what each replay put into the chip and what came out, as HDF5 files.

A failed nightly test is debugged from its artifacts, so they are written as the replay
finishes (not at session end) and atomically. Inputs are saved as a native recording
(``hil.recordings.load`` reads it, and a test can replay it again); outputs are chip events
(``SPIKE_DTYPE``: layer, x, y, feature, t), which no recording format holds, so they get a
small file of their own: ``/spikes/<field>`` datasets, read back by ``load_spikes``.

Retention: a test's folder is emptied when the test runs again, so a picture of last
night's failure never sits beside tonight's pass. ``--hil-artifacts-keep failed`` removes
the folder of a test that passed; ``--hil-artifacts-keep N`` gives each session a folder of
its own (``run-<start>-<id>/``) and removes all but the last N.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from hil import recordings
from hil.events import SPIKE_DTYPE, spikes_as_events
from hil.files import unreadable_file

if TYPE_CHECKING:
    from hil.backends.base import Run

SPIKES_FORMAT = "speck-hil spikes"


class ArtifactError(ValueError):
    """A file that is not a spikes file written by ``save_spikes``."""


def save_spikes(path: str | os.PathLike, spikes: np.ndarray, **metadata) -> Path:
    """Write chip events atomically; ``metadata`` (strings, numbers) become root attributes."""
    path = Path(path)
    spikes = np.asarray(spikes, dtype=SPIKE_DTYPE)
    with recordings.atomic_hdf5(path, format=SPIKES_FORMAT, t_unit="us", **metadata) as f:
        group = f.create_group("spikes")
        for name in SPIKE_DTYPE.names:
            group.create_dataset(name, data=np.ascontiguousarray(spikes[name]))
    return path


def load_spikes(path: str | os.PathLike) -> np.ndarray:
    """Read a file written by ``save_spikes`` back into a ``SPIKE_DTYPE`` array."""
    problem = unreadable_file(path)
    if problem:
        raise ArtifactError(f"{path}: {problem}")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SPIKES_FORMAT:
                raise ArtifactError(f"{path}: not a {SPIKES_FORMAT} file")
            group = f["spikes"]
            spikes = np.zeros(len(group["t"]), dtype=SPIKE_DTYPE)
            for name in SPIKE_DTYPE.names:
                spikes[name] = group[name][()]
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot be read as HDF5 ({exc})") from None
    return spikes


#: The longest folder name given to a test: file systems allow 255 bytes, and the files in it
#: add their own names to it on some tools' paths.
MAX_FOLDER_NAME = 160


def folder_for(root: Path, nodeid: str) -> Path:
    """A folder name for a test, readable and safe on every file system; a long test id (a
    parametrization with long values) keeps its start and gets a digest of the whole id, so
    two long ids never share a folder."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    if len(name) > MAX_FOLDER_NAME:
        digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[: MAX_FOLDER_NAME - 17]}-{digest}"
    return root / name


def save_run(folder: Path, index: int, run: Run) -> list[Path]:
    """Write one replay's inputs and outputs as ``run<index>-inputs.h5`` and
    ``run<index>-outputs.h5``; returns the paths."""
    mapping = run.deployment.mapping
    device = str(run.deployment.device.info)
    channels, height, width = mapping.input_shape
    inputs_path = recordings.save(
        folder / f"run{index}-inputs.h5",
        spikes_as_events(run.inputs),
        sensor_size=(width, height, channels),
        source=run.source or "events",
        device=device,
    )
    outputs_path = save_spikes(
        folder / f"run{index}-outputs.h5",
        run.outputs,
        source=run.source or "events",
        device=device,
        config_hash=mapping.config_hash,
        monitored_cores=np.asarray(mapping.monitored_cores, dtype=np.int64),
    )
    return [inputs_path, outputs_path]


#: ``--hil-artifacts-keep failed``: a test's artifacts are kept only when it failed
KEEP_FAILED = "failed"
RUN_FOLDER = "run-"


def parse_keep(text: str | None) -> int | str | None:
    """``--hil-artifacts-keep``: None (keep everything), "failed", or N (the last N runs)."""
    if text is None or text == "":
        return None
    if text == KEEP_FAILED:
        return KEEP_FAILED
    try:
        runs = int(text)
    except ValueError:
        runs = 0
    if runs < 1:
        raise ValueError(f"expected 'failed' or a number of runs of at least 1, got {text!r}")
    return runs


def run_folder_name(started: str, run_id: str) -> str:
    """A session's own folder when the last N runs are kept: sorts by start time."""
    stamp = re.sub(r"[^0-9]", "", started)[:14]
    return f"{RUN_FOLDER}{stamp}-{run_id[:8]}"


def prune_runs(root: Path, keep: int, current: str) -> list[Path]:
    """Remove all but the newest ``keep`` run folders under ``root`` (this session's
    ``current`` among them); returns the removed ones."""
    if not root.is_dir():
        return []
    older = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith(RUN_FOLDER)),
        key=lambda p: p.name,
    )
    older = [p for p in older if p.name != current]
    removed = older[: max(len(older) - (keep - 1), 0)]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def clear(folder: Path) -> None:
    """Remove a test's artifact folder: what an earlier run of the test left (pictures of a
    failure that no longer happens) must not sit beside this run's files."""
    shutil.rmtree(folder, ignore_errors=True)
