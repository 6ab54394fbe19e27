"""A corpus of bad inputs, built by code into a folder (no stored binaries).

Each ``Bad`` is one input a user can hand the harness, with the word its one-line error must
contain (the file, option, variable or layer it names). The classes follow issue 12: code
execution, recordings that cannot be read, silent wrong answers, hangs, tracebacks, resource
blow-ups, lost work and weak messages. ``tests/badinput/test_bad_input.py`` runs each through
the Python API, the command line and pytest.
"""

from __future__ import annotations

import os
import pickle
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from hil import recordings
from hil.events import EVENT_DTYPE
from hil.recordings import synthetic

SPECK2F = Path(__file__).resolve().parents[2] / "hil" / "chip" / "profiles" / "speck2f.toml"
MARKER = "RAN"  # a file a payload would create: its presence proves code ran


@dataclass(frozen=True)
class Bad:
    """One bad input: ``build(folder)`` writes it and returns what to pass (a path, a model
    reference, an option value); ``names`` is what its error line must mention."""

    id: str
    build: Callable[[Path], str]
    names: str
    env: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.id


# --- code execution: models ------------------------------------------------------------


class _Payload:
    """Unpickling this runs ``os.system``: what a crafted .pt file does."""

    def __init__(self, folder: Path):
        self.command = f"touch {folder / MARKER}"

    def __reduce__(self):
        return (os.system, (self.command,))


def small_net() -> nn.Sequential:
    import sinabs.layers as sl

    return nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
    )


def _crafted_pt(folder: Path) -> str:
    path = folder / "crafted.pt"
    with path.open("wb") as f:
        pickle.dump(_Payload(folder), f)
    return str(path)


def _network_with_payload(folder: Path) -> str:
    net = small_net()
    net.payload = _Payload(folder)
    path = folder / "net_with_payload.pt"
    torch.save(net, path)
    return str(path)


def _payload_in_torch_zip(folder: Path) -> str:
    path = folder / "dict_with_payload.pt"
    torch.save({"weights": torch.zeros(3), "extra": _Payload(folder)}, path)
    return str(path)


class _Constructs:
    """Unpickling this calls a torch layer's constructor with the given arguments: what a
    crafted .pt file of a few hundred bytes can ask for (torch.save never does)."""

    def __init__(self, layer: type, *args: int):
        self.layer, self.args = layer, args

    def __reduce__(self):
        return (self.layer, self.args)


def _constructing_pt(name: str, layer: type, *args: int) -> Callable[[Path], str]:
    """A torch zip file whose pickle calls ``layer(*args)``."""

    def build(folder: Path) -> str:
        import zipfile

        path = folder / name
        plain = folder / f"{name}.base"
        torch.save({}, plain)
        with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename.endswith("data.pkl"):
                    data = pickle.dumps(_Constructs(layer, *args), protocol=2)
                target.writestr(item, data)
        plain.unlink()
        return str(path)

    return build


#: Model files that ask for more memory than a network may have (40 GB, 320 GB).
BIG_MODELS = [
    Bad("linear-of-10^10", _constructing_pt("huge.pt", nn.Linear, 100_000, 100_000), "huge.pt"),
    Bad(
        "kernel-of-100000",
        _constructing_pt("kernel.pt", nn.Conv2d, 2, 4, 100_000),
        "kernel.pt",
    ),
]


CODE_EXECUTION = [
    Bad("crafted-pickle", _crafted_pt, "crafted.pt"),
    Bad("network-with-payload", _network_with_payload, "net_with_payload.pt"),
    Bad("payload-in-checkpoint", _payload_in_torch_zip, "dict_with_payload.pt"),
]


# --- model references that raise instead of building -------------------------------------


def _written(name: str, write: Callable[[Path], object]) -> Callable[[Path], str]:
    """A builder that makes ``folder / name`` with ``write(path)`` and returns its path."""

    def build(folder: Path) -> str:
        path = folder / name
        write(path)
        return str(path)

    return build


def _text(name: str, text: str) -> Callable[[Path], str]:
    return _written(name, lambda path: path.write_text(textwrap.dedent(text)))


def _builder(source: str, name: str = "models_bad") -> Callable[[Path], str]:
    """A model file whose ``build`` is the reference to load."""
    write = _text(f"{name}.py", source)
    return lambda folder: f"{write(folder)}:build"


BAD_BUILDERS = [
    Bad("builder-raises", _builder("def build():\n    raise RuntimeError('no GPU')\n"), "build"),
    Bad("builder-needs-argument", _builder("def build(channels):\n    pass\n"), "build"),
    Bad("builder-syntax-error", _builder("def build(:\n"), "models_bad.py"),
    Bad("builder-import-error", _builder("import no_such_module_xyz\n"), "models_bad.py"),
    Bad("builder-returns-none", _builder("def build():\n    return None\n"), "build"),
    Bad("builder-exits", _builder("import sys\n\ndef build():\n    sys.exit(3)\n"), "SystemExit"),
    Bad("module-exits-on-import", _builder("import sys\nsys.exit(3)\n"), "models_bad.py"),
    Bad("builder-missing", _builder("x = 1\n"), "build"),
    Bad("model-is-a-directory", lambda folder: _mkdir(folder / "net.pt"), "net.pt"),
    Bad("state-dict-only", lambda folder: _state_dict(folder), "weights.pt"),
]


def _state_dict(folder: Path) -> str:
    path = folder / "weights.pt"
    torch.save(small_net().state_dict(), path)
    return str(path)


def _mkdir(path: Path) -> str:
    path.mkdir()
    return str(path)


# --- networks the chip cannot run ---------------------------------------------------------


def _network(layers: str) -> Callable[[Path], str]:
    source = f"""
        import sinabs.layers as sl
        from torch import nn


        def build():
            iaf = lambda: sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
            return nn.Sequential({layers})
        """
    return _builder(source, "undeployable")


UNSUPPORTED_LAYERS = [
    Bad(
        "maxpool",
        _network("nn.Conv2d(2, 4, 3), iaf(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), iaf()"),
        "MaxPool2d",
    ),
    Bad("lstm", _network("nn.Flatten(), nn.LSTM(10, 10)"), "LSTM"),
    Bad("unconverted-relu", _network("nn.Conv2d(2, 4, 3), nn.ReLU()"), "ReLU"),
]


#: Networks built for another input than the 2,16,16 the tests give them.
WRONG_INPUT_SHAPE = [
    Bad(
        "linear-built-for-64x64",
        _network("nn.Conv2d(2, 4, 3, stride=2), iaf(), nn.Flatten(), nn.Linear(3844, 10), iaf()"),
        "layer 3 (Linear)",
    ),
    Bad("conv-built-for-3-channels", _network("nn.Conv2d(3, 4, 3), iaf()"), "layer 0 (Conv2d)"),
]


# --- profiles -----------------------------------------------------------------------------


def _profile(text: str) -> Callable[[Path], str]:
    return _text("lab.toml", text)


def _fifo(name: str) -> Callable[[Path], str]:
    return _written(name, os.mkfifo)


def _bytes(name: str, data: bytes) -> Callable[[Path], str]:
    return _written(name, lambda path: path.write_bytes(data))


BAD_PROFILES = [
    Bad("profile-is-a-directory", lambda folder: _mkdir(folder / "lab.toml"), "lab.toml"),
    Bad("profile-is-a-fifo", _fifo("lab.toml"), "lab.toml"),
    Bad("profile-not-utf8", _bytes("lab.toml", b"[timing]\nslow_clk_hz = 1\xff\xfe\n"), "lab.toml"),
    Bad("profile-not-toml", _profile("[timing\nslow_clk_hz = 1\n"), "lab.toml"),
    Bad("slow-clock-zero", _profile("[timing]\nslow_clk_hz = 0\n"), "slow_clk_hz"),
    Bad("negative-latency", _profile("[timing]\npipeline_latency_us = -5.0\n"), "latency"),
    Bad("negative-budget", _profile("[stall]\nmax_delay_us = -1.0\n"), "max_delay_us"),
    Bad("nan-delay", _profile("[stall]\nmax_drain_us = nan\n"), "max_drain_us"),
    Bad("measured-no", _profile('[timing]\nsynops_per_s_measured = "no"\n'), "measured"),
    Bad("budgets-in-wrong-unit", _profile(f"[timing]\nsynops_per_s = {[50] * 9}\n"), "synops"),
    Bad("budgets-of-one", _profile(f"[timing]\nsynops_per_s = {[1] * 9}\n"), "synops"),
    Bad("too-few-cores", _profile("[timing]\nsynops_per_s = [5e7, 5e7]\n"), "synops_per_s"),
    Bad("typo-in-key", _profile("[timing]\nsynops_per_sec = 5e7\n"), "synops_per_sec"),
    Bad("unknown-section", _profile("[timings]\nslow_clk_hz = 10\n"), "timings"),
    Bad("section-not-table", _profile("timing = 3\n"), "timing"),
    Bad("decimator-of-seven", _profile("[decimator]\nintervals = [2, 4, 8]\n"), "intervals"),
]


# --- recordings -----------------------------------------------------------------------------


def good_events(n: int = 2000, seed: int = 5) -> np.ndarray:
    return synthetic.poisson(rate=20_000, duration_s=n / 20_000, size=(34, 34), seed=seed)


def _h5_with_index(name: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable:
    def build(folder: Path) -> str:
        path = recordings.save(folder / name, good_events(), (34, 34, 2))
        with h5py.File(path, "r+") as f:
            index = change(f["ms_to_idx"][:])
            del f["ms_to_idx"]
            f.create_dataset("ms_to_idx", data=index)
        return str(path)

    return build


def _decreasing(index: np.ndarray) -> np.ndarray:
    index = index.copy()
    index[20:30] = index[20:30][::-1]
    return index


def _shifted(index: np.ndarray) -> np.ndarray:
    """Monotone, right length, right ends, but pointing 100 events late in the middle."""
    index = index.copy()
    index[10:-10] = np.minimum(index[10:-10] + 100, index[-1])
    return index


def _declared_not_stored(folder: Path) -> str:
    """An HDF5 file declaring 10^12 events without storing any: 11.8 TiB if read."""
    path = folder / "declared.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("events")
        for name in ("t", "x", "y", "p"):
            dtype = EVENT_DTYPE[name]
            group.create_dataset(name, (10**12,), dtype, chunks=(1 << 16,), compression="gzip")
        f.attrs["sensor_size"] = np.array([128, 128, 2])
    return str(path)


def _h5_elsewhere(name: str, how: str) -> Callable[[Path], str]:
    """A file whose event datasets live elsewhere: ``how`` is "fifo" or "zero" (HDF5 external
    storage on a FIFO of the folder or on /dev/zero, 10^9 events: 11 GB if read), "link" (an
    external link to a good file) or "virtual" (a virtual dataset mapping a good file)."""

    def build(folder: Path) -> str:
        path = folder / name
        good = recordings.save(folder / f"{name}.good.h5", good_events(), (34, 34, 2))
        if how == "fifo":
            os.mkfifo(folder / f"{name}.fifo")
        with h5py.File(path, "w") as f:
            f.attrs["sensor_size"] = np.array([34, 34, 2])
            if how == "link":
                f["events"] = h5py.ExternalLink(good.name, "/events")
                return str(path)
            group = f.create_group("events")
            for column in ("t", "x", "y", "p"):
                dtype = EVENT_DTYPE[column]
                if how == "virtual":
                    layout = h5py.VirtualLayout((100,), dtype)
                    layout[:] = h5py.VirtualSource(good.name, f"events/{column}", shape=(100,))
                    group.create_virtual_dataset(column, layout)
                    continue
                source = str(folder / f"{name}.fifo") if how == "fifo" else "/dev/zero"
                size = 1000 if how == "fifo" else 10**9
                group.create_dataset(
                    column, (size,), dtype, external=[(source, 0, h5py.h5f.UNLIMITED)]
                )
        return str(path)

    return build


#: Recordings whose data is outside the file (issue 25): refused before any is followed.
ELSEWHERE_RECORDINGS = [
    Bad("external-storage-on-fifo", _h5_elsewhere("fifo-backed.h5", "fifo"), "fifo-backed.h5"),
    Bad("external-storage-on-dev-zero", _h5_elsewhere("zero.h5", "zero"), "/dev/zero"),
    Bad("external-link", _h5_elsewhere("linked.h5", "link"), "external link"),
    Bad("virtual-dataset", _h5_elsewhere("virtual.h5", "virtual"), "virtual dataset"),
]


BAD_RECORDINGS = [
    Bad("declared-not-stored", _declared_not_stored, "declared.h5"),
    Bad("index-all-zeros", _h5_with_index("zeros.h5", np.zeros_like), "zeros.h5"),
    Bad("index-short", _h5_with_index("short.h5", lambda i: i[: len(i) // 2]), "short.h5"),
    Bad("index-decreasing", _h5_with_index("decreasing.h5", _decreasing), "decreasing.h5"),
    Bad("index-shifted", _h5_with_index("shifted.h5", _shifted), "shifted.h5"),
    Bad("recording-is-a-fifo", _fifo("fifo.h5"), "fifo.h5"),
    Bad("recording-is-a-directory", lambda folder: _mkdir(folder / "dir.h5"), "dir.h5"),
    Bad("recording-empty", _bytes("empty.h5", b""), "empty.h5"),
    Bad("recording-text", _bytes("notes.h5", b"lab notes\n"), "notes.h5"),
    *ELSEWHERE_RECORDINGS[1:],  # the FIFO-backed one hangs in libhdf5 (holding the GIL) when
    # read: test_hostile_input.py runs it in a process with a timeout
]


# --- manifests -------------------------------------------------------------------------------


def _manifest(entry: str, *, with_file: bool = True) -> Callable[[Path], str]:
    """A recordings folder whose manifest lists ``a`` as ``entry`` says (format fields: sha,
    events, duration)."""

    def build(folder: Path) -> str:
        library = folder / "library"
        library.mkdir()
        path = recordings.save(library / "a.h5", good_events(), (34, 34, 2))
        rec = recordings.load(path)
        text = entry.format(
            sha=rec.sha256, events=len(rec), duration=rec.duration_us, other="0" * 64
        )
        (library / recordings.MANIFEST).write_text(textwrap.dedent(text))
        return str(library)

    return build


_GOOD_ENTRY = """
    [recordings.a]
    file = "{file}"
    sensor_size = {size}
    duration_us = {duration}
    events = {events}
    sha256 = "{sha}"
"""


def _entry(file: str = "a.h5", size: str = "[34, 34, 2]", **fields: str) -> str:
    text = _GOOD_ENTRY.replace("{file}", file).replace("{size}", size)
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    return text


def _linked_out(folder: Path) -> str:
    """A recordings folder whose ``a.h5`` is a link to a file outside it; the entry itself
    matches the file, so only the link gives it away."""
    library = Path(_manifest(_entry())(folder))
    outside = folder / "outside.h5"
    os.replace(library / "a.h5", outside)
    (library / "a.h5").symlink_to(outside)
    return str(library)


BAD_MANIFESTS = [
    Bad("entry-outside-folder", _manifest(_entry(file="../../etc/passwd")), "outside"),
    Bad("entry-absolute", _manifest(_entry(file="/etc/passwd")), "outside"),
    Bad("entry-links-outside", _linked_out, "'a.h5' is a link to"),
    Bad("sensor-size-differs", _manifest(_entry(size="[128, 128, 2]")), "sensor_size"),
    Bad("duration-differs", _manifest(_entry(duration="5")), "duration_us"),
    Bad("events-differ", _manifest(_entry(events="7")), "events"),
    Bad("sha256-differs", _manifest(_entry(sha="{other}")), "sha256"),
    Bad("recordings-not-a-table", _manifest('recordings = "a.h5"\n'), "recordings"),
    Bad("entry-not-a-table", _manifest("[recordings]\na = 3\n"), "'a'"),
    Bad("entry-incomplete", _manifest('[recordings.a]\nfile = "a.h5"\n'), "'a'"),
    Bad("manifest-is-a-directory", lambda folder: _manifest_folder(folder), "manifest.toml"),
]


def _manifest_folder(folder: Path) -> str:
    """A recordings folder whose manifest.toml is a folder."""
    (folder / "library" / recordings.MANIFEST).mkdir(parents=True)
    return str(folder / "library")


# --- pytest options and environment ---------------------------------------------------------


def _file_in_the_way(folder: Path) -> Path:
    blocker = folder / "blocker"
    blocker.write_text("a file, not a folder\n")
    return blocker


BAD_OPTIONS = [
    Bad("pictures-garbage", lambda folder: "--hil-pictures=garbage", "--hil-pictures"),
    Bad("report-is-a-directory", lambda folder: f"--hil-report={folder}", "--hil-report"),
    Bad(
        "report-under-a-file",
        lambda folder: f"--hil-report={_file_in_the_way(folder) / 'r.json'}",
        "--hil-report",
    ),
    Bad(
        "artifacts-under-a-file",
        lambda folder: f"--hil-artifacts={_file_in_the_way(folder) / 'art'}",
        "--hil-artifacts",
    ),
    Bad("scope-garbage", lambda folder: "--device-scope=forever", "--device-scope"),
    Bad(
        "recordings-missing",
        lambda folder: f"--recordings={folder / 'nowhere'}",
        "--recordings",
    ),
    Bad(
        "recordings-env-missing",
        lambda folder: "-q",
        "HIL_RECORDINGS",
        env={"HIL_RECORDINGS": "nowhere"},
    ),
    Bad(
        "recordings-is-a-file",
        lambda folder: f"--recordings={_file_in_the_way(folder)}",
        "--recordings",
    ),
    Bad("device-garbage", lambda folder: "--device=toaster", "toaster"),
    Bad(
        "report-under-proc",  # os.access says yes to root; trying to create says no
        lambda folder: "--hil-report=/proc/nope/r.json",
        "--hil-report",
    ),
    Bad(
        "torch-threads-absurd",
        lambda folder: "-q",
        "HIL_TORCH_THREADS",
        env={"HIL_TORCH_THREADS": "100000"},
    ),
    Bad(
        "sim-devkits-garbage",
        lambda folder: "--device=sim",
        "HIL_SIM_DEVKITS",
        env={"HIL_SIM_DEVKITS": "garbage"},
    ),
    Bad(
        "require-device-env-garbage",
        lambda folder: "-q",
        "HIL_REQUIRE_DEVICE",
        env={"HIL_REQUIRE_DEVICE": "maybe"},
    ),
]
