"""Event recordings on disk: ``from hil import recordings``.

``recordings.load(path)`` opens any recording (native HDF5, tonic's ``.npy``, AEDAT4),
``recordings.save`` writes the native layout, ``recordings.by_name`` finds one through a
folder's manifest. The modules of this package, in the order they build on each other: ``base``
(the ``Recording``), ``hdf5`` (the native layout), ``formats`` (telling formats apart, the
others), ``manifest``, ``folders`` (which folder a name is looked up in), ``datasets``
(labelled recordings), ``synthetic``.
"""

from hil.recordings.base import ORIGIN_KEY, Recording, RecordingError, file_sha256, rebased
from hil.recordings.formats import load
from hil.recordings.hdf5 import FORMAT, FORMAT_VERSION, atomic_hdf5, save
from hil.recordings.manifest import (
    MANIFEST,
    RECORDINGS_ENV,
    ManifestEntry,
    add_to_manifest,
    by_name,
    manifest_entry,
    manifest_update,
    read_manifest,
    recordings_dir,
    verify_entry,
    write_manifest,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "ORIGIN_KEY",
    "RECORDINGS_ENV",
    "ManifestEntry",
    "Recording",
    "RecordingError",
    "add_to_manifest",
    "atomic_hdf5",
    "by_name",
    "file_sha256",
    "load",
    "manifest_entry",
    "manifest_update",
    "read_manifest",
    "rebased",
    "recordings_dir",
    "save",
    "verify_entry",
    "write_manifest",
]
