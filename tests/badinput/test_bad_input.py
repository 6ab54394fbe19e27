"""Every bad input of the corpus, through the Python API, the command line and pytest.

Each asserts the exit status (or exception), that the error is one line naming the input, and
that nothing else happened: no file written or changed in the folder, no code of the input
ran, no process spawned, no placeholder samna imported.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sinabs.layers  # noqa: F401 (so it outlives the in-process runs: extensions load once)
from corpus import (
    BAD_BUILDERS,
    BAD_MANIFESTS,
    BAD_OPTIONS,
    BAD_PROFILES,
    BAD_RECORDINGS,
    BIG_MODELS,
    CODE_EXECUTION,
    MARKER,
    UNSUPPORTED_LAYERS,
    WRONG_INPUT_SHAPE,
    Bad,
    good_events,
)

from hil import recordings
from hil.backends import DeployError, open_device
from hil.bounds import SizeError
from hil.chip.profile import ProfileError, load_profile
from hil.cli import main
from hil.models import ModelError, load_model

REPO = Path(__file__).resolve().parents[2]
GOOD_MODEL = "hil.examples:scnn_34"
EXIT_BAD_INPUT = 2
NO_BENCHMARK = "-pno:benchmark"  # pytest-benchmark runs git when it loads: not ours to check


# --- what "nothing else changed" means -------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time (FIFOs not opened)."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = path.lstat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


def _no_process(*args, **kwargs):
    raise AssertionError(f"a process was spawned: {args[1:2]}")


@pytest.fixture
def untouched(tmp_path, monkeypatch):
    """Build inputs into ``tmp_path``; afterwards, check that nothing there changed, that no
    process was spawned and that no payload ran."""

    class Guard:
        before: dict | None = None

        def build(self, bad: Bad) -> str:
            for key, value in bad.env.items():
                monkeypatch.setenv(key, value)
            built = bad.build(tmp_path)
            self.before = snapshot(tmp_path)
            monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
            return built

    guard = Guard()
    yield guard
    monkeypatch.undo()
    assert not (tmp_path / MARKER).exists(), "code from the input ran"
    if guard.before is not None:
        assert snapshot(tmp_path) == guard.before, "the folder changed"
    samna = sys.modules.get("samna")
    assert samna is None or samna.__name__ == "hil.emulator.samna", "placeholder samna imported"


def one_line(text: str, names: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert names.lower() in lines[0].lower(), f"{names!r} not named in: {lines[0]}"
    return lines[0]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --- code execution: a .pt file is data ------------------------------------------------------


@pytest.mark.parametrize("bad", CODE_EXECUTION + BAD_BUILDERS + BIG_MODELS, ids=repr)
def test_model_api(bad, untouched):
    reference = untouched.build(bad)
    with pytest.raises(ModelError) as error:
        load_model(reference)
    one_line(str(error.value), bad.names)


@pytest.mark.parametrize(
    "bad",
    CODE_EXECUTION + BAD_BUILDERS + BIG_MODELS + UNSUPPORTED_LAYERS + WRONG_INPUT_SHAPE,
    ids=repr,
)
def test_model_cli(bad, untouched, capsys):
    reference = untouched.build(bad)
    code, out, err = cli(capsys, "check", "--model", reference, "--input-shape", "2,16,16")
    assert code == EXIT_BAD_INPUT
    one_line(err, bad.names)
    assert out == ""


@pytest.mark.parametrize("bad", CODE_EXECUTION, ids=repr)
def test_a_refused_model_file_says_nothing_else(bad, untouched):
    """No warning from torch beside the one line (it would print on the lab's stderr and ask
    for an issue to be filed), and none of torch's advice to load with weights_only=False."""
    import warnings

    reference = untouched.build(bad)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ModelError) as error:
        warnings.simplefilter("always")
        load_model(reference)
    assert [str(w.message) for w in caught] == []
    assert "weights_only` set to `False`" not in str(error.value)


def test_model_pytest(pytester):
    references = [bad.build(pytester.path) for bad in CODE_EXECUTION]
    pytester.makepyfile(
        f"""
        import pytest
        from hil.models import load_model

        @pytest.mark.parametrize("reference", {references!r})
        def test_loads(reference):
            load_model(reference)

        def test_next_one_runs():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=len(references), passed=1)
    for reference in references:
        result.stdout.fnmatch_lines([f"E  *ModelError: {reference}: refused: *"])
    assert not (pytester.path / MARKER).exists()


def test_a_saved_network_still_loads(tmp_path):
    import torch
    from corpus import small_net

    torch.save(small_net(), tmp_path / "net.pt")
    assert isinstance(load_model(str(tmp_path / "net.pt")), torch.nn.Sequential)


def test_model_help_says_python_files_are_code(capsys):
    code, out, _ = cli(capsys, "check", "--help")
    assert code == 0
    assert "are code and run" in " ".join(out.split())


# --- networks the chip cannot run --------------------------------------------------------------


@pytest.mark.parametrize("bad", UNSUPPORTED_LAYERS + WRONG_INPUT_SHAPE, ids=repr)
def test_unsupported_layer_api(bad, untouched):
    net = load_model(untouched.build(bad))
    with open_device("sim") as device, pytest.raises(DeployError) as error:
        device.deploy(net, (2, 16, 16))
    one_line(str(error.value), bad.names)


@pytest.mark.parametrize("bad", WRONG_INPUT_SHAPE, ids=repr)
def test_wrong_input_shape_replay_cli(bad, untouched, capsys, tmp_path):
    recording = recordings.save(tmp_path / "sixteen.h5", good_events()[:0], (16, 16, 2))
    reference = untouched.build(bad)
    code, _, err = cli(capsys, "replay", "--model", reference, "--recording", recording)
    assert code == EXIT_BAD_INPUT
    assert "does not take input of shape 2,16,16" in one_line(err, bad.names)


def test_an_input_no_chip_takes_is_refused_before_sinabs_allocates(capsys):
    code, out, _ = cli(capsys, "check", "--model", GOOD_MODEL, "--input-shape", "2,20000,20000")
    assert code == 1  # an error finding of the check, in one line
    (finding,) = [line for line in out.splitlines() if line.startswith("error:")]
    assert "(2, 20000, 20000)" in finding
    with open_device("sim") as device, pytest.raises(DeployError, match="at most 128x128"):
        device.deploy(load_model(GOOD_MODEL), (2, 20000, 20000))


@pytest.mark.parametrize(
    ("bad", "layer", "line"),
    [
        (UNSUPPORTED_LAYERS[0], 2, "UnsupportedLayer: layer 2 (MaxPool2d) is a pooling the chip"),
        (
            WRONG_INPUT_SHAPE[0],
            3,
            "InputShapeError: the network does not take input of shape 2,16,16 (C,H,W): "
            "layer 3 (Linear) fails on it: mat1 and mat2 shapes cannot be multiplied",
        ),
    ],
    ids=["unsupported-layer", "wrong-input-shape"],
)
def test_undeployable_network_pytest(bad, layer, line, pytester):
    """``speck.deploy`` in a lab's test: the command line's line, as a DeployError."""
    reference = bad.build(pytester.path)
    pytester.makepyfile(
        f"""
        import pytest
        from hil.backends import DeployError
        from hil.models import load_model

        def test_deploys(speck):
            speck.deploy(load_model({reference!r}), (2, 16, 16))

        def test_is_a_deploy_error(speck):
            with pytest.raises(DeployError) as error:
                speck.deploy(load_model({reference!r}), (2, 16, 16))
            assert error.value.layer == {layer}

        def test_next_one_runs():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines([f"E  *{line}*"])


# --- profiles --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_PROFILES, ids=repr)
def test_profile_api(bad, untouched):
    path = untouched.build(bad)
    with pytest.raises(ProfileError) as error:
        load_profile("speck2f", override=path)
    one_line(str(error.value), bad.names)
    assert Path(path).name in str(error.value)


@pytest.mark.parametrize("bad", BAD_PROFILES, ids=repr)
def test_profile_cli(bad, untouched, capsys):
    path = untouched.build(bad)
    code, out, err = cli(
        capsys, "check", "--model", GOOD_MODEL, "--input-shape", "2,34,34", "--profile", path
    )
    assert code == EXIT_BAD_INPUT
    one_line(err, bad.names)
    assert out == ""


@pytest.mark.parametrize("bad", BAD_PROFILES, ids=repr)
def test_profile_pytest(bad, pytester, monkeypatch):
    path = bad.build(pytester.path)
    report = pytester.path / "earlier.json"
    report.write_text('{"earlier": "run"}')
    pytester.makepyfile("def test_never_runs():\n    raise AssertionError('ran')\n")
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
    result = pytester.runpytest(NO_BENCHMARK, "--profile", path, f"--hil-report={report}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert one_line(result.stderr.str(), bad.names).startswith("ERROR: ")
    assert report.read_text() == '{"earlier": "run"}'


def test_the_shipped_profiles_and_extension_sections_load(tmp_path):
    for name in ("speck2f", "speck2e"):
        assert load_profile(name).n_cores == 9
    lab = tmp_path / "lab.toml"
    lab.write_text(
        "[noise]\nseed = 1\n[power]\nidle_w = [1e-4, 1e-4, 1e-4, 1e-4, 1e-4]\n"
        "[calibration]\ndate = 'x'\n"
    )
    assert load_profile("speck2f", override=lab).source.endswith("lab.toml")


# --- recordings ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_RECORDINGS, ids=repr)
def test_recording_api(bad, untouched):
    path = untouched.build(bad)
    with pytest.raises(recordings.RecordingError) as error:
        recording = recordings.load(path)
        recording.window(0, 100_000)
        recording.events  # noqa: B018
    one_line(str(error.value), bad.names)


@pytest.mark.parametrize("bad", BAD_RECORDINGS, ids=repr)
def test_recording_cli(bad, untouched, capsys, tmp_path):
    good = recordings.save(tmp_path / "good.h5", good_events(), (34, 34, 2))
    path = untouched.build(bad)
    code, out, err = cli(capsys, "recordings", "info", path, good)
    assert code == EXIT_BAD_INPUT
    one_line(err, bad.names)
    assert str(good) in out  # the good file is still reported
    code, _, err = cli(capsys, "recordings", "convert", path, tmp_path / "out.h5")
    assert code == EXIT_BAD_INPUT
    one_line(err, bad.names)


def test_an_artifact_that_is_a_fifo_is_refused(tmp_path):
    from hil.plugin.artifacts import ArtifactError, load_spikes

    os.mkfifo(tmp_path / "run0-outputs.h5")
    with pytest.raises(ArtifactError) as error:
        load_spikes(tmp_path / "run0-outputs.h5")
    one_line(str(error.value), "FIFO")


def test_recording_pytest(pytester):
    paths = [bad.build(pytester.path) for bad in BAD_RECORDINGS if "index" in bad.id]
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.parametrize("path", {paths!r})
        def test_window(recording, path):
            recording(path).window(0, 100_000)

        def test_next_one_runs():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=len(paths), passed=1)
    for path in paths:
        result.stdout.fnmatch_lines([f"*RecordingError: {path}: *ms_to_idx*"])


# --- manifests -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_MANIFESTS, ids=repr)
def test_manifest_api(bad, untouched):
    library = untouched.build(bad)
    with pytest.raises(recordings.RecordingError) as error:
        recordings.by_name("a", library)
    one_line(str(error.value), bad.names)


@pytest.mark.parametrize("bad", BAD_MANIFESTS, ids=repr)
def test_manifest_cli(bad, untouched, capsys):
    library = untouched.build(bad)
    code, _, err = cli(capsys, "recordings", "verify", "--dir", library)
    assert code == EXIT_BAD_INPUT
    one_line(err, bad.names)


@pytest.mark.parametrize("bad", BAD_MANIFESTS[:4], ids=repr)
def test_manifest_pytest(bad, pytester):
    library = bad.build(pytester.path)
    pytester.makepyfile(
        "def test_uses_it(recording):\n    recording('a')\n\ndef test_next_one_runs():\n    pass\n"
    )
    result = pytester.runpytest("--recordings", library)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*RecordingError: *{bad.names}*"])


def test_a_link_within_the_folder_is_followed(tmp_path):
    library = tmp_path / "library"
    (library / "store").mkdir(parents=True)
    path = recordings.save(library / "store" / "a.h5", good_events(), (34, 34, 2))
    (library / "a.h5").symlink_to(path)
    recordings.write_manifest(library, {"a": recordings.manifest_entry("a", library / "a.h5", "")})
    assert len(recordings.by_name("a", library)) == len(good_events())


def test_a_linked_recordings_folder_is_fine(tmp_path):
    """The repository's own ``recordings/`` is a link to the shipped examples."""
    (tmp_path / "linked").symlink_to(REPO / "hil" / "data" / "recordings")
    assert len(recordings.by_name("poisson_34", tmp_path / "linked")) > 0


def test_a_missing_recordings_folder_cli(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "nowhere"
    code, out, err = cli(capsys, "recordings", "verify", "--dir", missing)
    assert code == EXIT_BAD_INPUT
    assert one_line(err, str(missing)).endswith("no such folder")
    monkeypatch.setenv("HIL_RECORDINGS", str(missing))
    code, out, err = cli(capsys, "replay", "--model", GOOD_MODEL, "--recording", "poisson_34")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    one_line(err, f"HIL_RECORDINGS {missing}: no such folder")


# --- options and environment of a pytest session: checked before any test -----------------------


@pytest.mark.parametrize("bad", BAD_OPTIONS, ids=repr)
def test_option_pytest(bad, pytester, monkeypatch):
    for key, value in bad.env.items():
        monkeypatch.setenv(key, value)
    earlier = pytester.path / "earlier.json"
    earlier.write_text('{"earlier": "run"}')
    monkeypatch.setenv("HIL_REPORT", str(earlier))
    argument = bad.build(pytester.path)
    pytester.makepyfile("def test_never_runs(speck):\n    raise AssertionError('ran')\n")
    before = snapshot(pytester.path)
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
    result = pytester.runpytest(NO_BENCHMARK, argument)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert one_line(result.stderr.str(), bad.names).startswith("ERROR: ")
    assert "ran" not in result.stdout.str()
    assert snapshot(pytester.path) == before  # the earlier record kept, no artifacts


# --- outputs of the command line ---------------------------------------------------------------


def _outputs(folder: Path) -> list[tuple[str, ...]]:
    blocker = folder / "blocker"
    blocker.write_text("a file\n")
    good = recordings.save(folder / "good.h5", good_events(), (34, 34, 2))
    return [
        ("recordings", "convert", good, folder),
        ("recordings", "convert", good, blocker / "out.h5"),
        ("recordings", "synth", "poisson", folder),
        ("recordings", "synth", "poisson", blocker / "out.h5"),
        ("replay", "--model", GOOD_MODEL, "--recording", good, "--out", folder),
        ("replay", "--model", GOOD_MODEL, "--recording", good, "--out", blocker / "o.h5"),
        # where os.access says yes to root but nothing can be created (issue 25)
        ("recordings", "convert", good, "/proc/nope/x.h5"),
        ("recordings", "synth", "poisson", "/proc/nope/x.h5"),
        ("recordings", "add", good, "--dir", "/proc/nope"),
        ("init", "/proc/nope"),
        ("history", "report", "--db", folder / "h.sqlite", "--out", "/proc/nope"),
        ("history", "trend", "t::m", "--db", folder / "h.sqlite", "--out", folder),
        ("recordings", "convert", good, folder / ("x" * 300 + ".h5")),
    ]


@pytest.mark.parametrize("index", range(13))
def test_output_path_cli(index, tmp_path, capsys, monkeypatch):
    argv = _outputs(tmp_path)[index]
    before = snapshot(tmp_path)
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
    code, out, err = cli(capsys, *argv)
    assert code == EXIT_BAD_INPUT
    one_line(err, str(argv[-1]))
    assert out == ""
    assert snapshot(tmp_path) == before


# --- sizes implied by input ----------------------------------------------------------------------


def test_a_long_gap_does_not_write_a_large_index(tmp_path):
    events = good_events(100)
    events["t"][50:] += 10 * 3600 * 1_000_000  # ten hours of silence in the middle
    path = recordings.save(tmp_path / "gap.h5", events, (34, 34, 2))
    assert path.stat().st_size < 100_000
    later = events[50:].copy()
    later["t"] -= events["t"][0]  # recordings count from their first event
    window = recordings.load(path).window(36_000_000_000, 36_010_000_000)
    np.testing.assert_array_equal(window, later)


def test_a_dense_recording_keeps_its_index(tmp_path):
    path = recordings.save(tmp_path / "dense.h5", good_events(), (34, 34, 2))
    import h5py

    with h5py.File(path) as f:
        assert "ms_to_idx" in f


def test_synops_series_over_an_absurd_span_is_refused_before_allocation():
    from dataclasses import replace

    from hil.analysis.synops import synops_report
    from hil.examples import INPUT_SHAPE_34, scnn_34

    rec = recordings.Recording.from_events(good_events(), (34, 34, 2))
    with open_device("sim") as device:
        run = device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all").replay(rec)
        late = run.outputs.copy()
        late["t"] += 10**13  # as outputs delayed by a budget in the wrong unit
        with pytest.raises(SizeError, match="SynOps/s series would need 596 GiB"):
            synops_report(replace(run, outputs=late), sinabs_dt_us=None)


def test_sinabs_reference_over_an_absurd_span_is_refused_before_allocation():
    from hil.backends.simulate import spike_frames
    from hil.events import SPIKE_DTYPE

    spikes = np.zeros(2, SPIKE_DTYPE)
    spikes["t"] = [0, 10**12]
    with pytest.raises(SizeError, match="sinabs' input frames"):
        spike_frames(spikes, (2, 128, 128), 1000)


def _with_gap(run, gap_us: int, after_us: int):
    """``run`` with ``gap_us`` of silence inserted at ``after_us`` in its inputs and outputs."""
    from dataclasses import replace

    shifted = {}
    for name in ("inputs", "outputs"):
        events = getattr(run, name).copy()
        events["t"][events["t"] >= after_us] += gap_us
        shifted[name] = events
    return replace(run, **shifted)


def test_agreement_over_a_long_gap_grows_with_events_not_span():
    """A 10-hour silence must neither allocate per bin of the span (3.6 million 10 ms bins,
    as it did) nor change a figure."""
    import tracemalloc
    from dataclasses import astuple, replace

    from hil.analysis.agreement import agreement
    from hil.examples import INPUT_SHAPE_34, scnn_34

    rec = recordings.Recording.from_events(good_events(), (34, 34, 2))
    with open_device("sim") as device:
        run = device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all").replay(rec)
    thinned = replace(run, outputs=run.outputs[::3])  # a chip that lost spikes
    middle = int(run.inputs["t"][0]) + 50_000  # a bin and window boundary
    gap = 10 * 3600 * 1_000_000
    gapped, gapped_thinned = _with_gap(run, gap, middle), _with_gap(thinned, gap, middle)

    tracemalloc.start()
    try:
        far = agreement(gapped_thinned, gapped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"agreement allocated {peak / 2**20:.0f} MiB over the gap"
    near = agreement(thinned, run)
    assert [astuple(layer) for layer in far] == [astuple(layer) for layer in near]
    assert 0 < far[-1].rate_distance < 1
    windows = {"class_window_us": 50_000}
    assert agreement(gapped_thinned, gapped, **windows)[-1].class_agreement == pytest.approx(
        agreement(thinned, run, **windows)[-1].class_agreement
    )


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (("poisson", "--rate", "1e12"), "events/s"),
        (("burst", "--rate", "1000", "--burst-rate", "1e12"), "events/s"),
        (("poisson", "--size", "100000x100000"), "sensor_size"),
        (("moving-bar", "--bar-width", "0"), "bar_width"),
        (("moving-bar", "--sweeps", "-3"), "sweeps"),
        (("poisson", "--rate", "nan"), "--rate"),
        (("poisson", "--duration", "-1"), "--duration"),
    ],
)
def test_synthetic_parameters_cli(options, names, tmp_path, capsys):
    kind, *rest = options
    code, _, err = cli(capsys, "recordings", "synth", kind, tmp_path / "x.h5", *rest)
    assert code == EXIT_BAD_INPUT
    one_line(err, names)
    assert list(tmp_path.iterdir()) == []


# --- weak messages: timeouts and the emulator's environment ------------------------------------


@pytest.mark.parametrize("timeout", [0, -1.0, math.nan, math.inf])
def test_timeout_api(timeout):
    from hil.examples import INPUT_SHAPE_34, scnn_34

    rec = recordings.Recording.from_events(good_events(), (34, 34, 2))
    with open_device("sim") as device:
        deployment = device.deploy(scnn_34(), INPUT_SHAPE_34)
        with pytest.raises(ValueError, match="timeout_s must be a positive number"):
            deployment.replay(rec, timeout_s=timeout)


@pytest.mark.parametrize("timeout", ["0", "-3", "nan", "soon"])
def test_timeout_cli(timeout, capsys):
    code, _, err = cli(
        capsys, "replay", "--model", GOOD_MODEL, "--recording", "x.h5", "--timeout", timeout
    )
    assert code == EXIT_BAD_INPUT
    one_line(err, "--timeout")


def test_sim_devkits_api_and_cli(monkeypatch, capsys):
    from hil.emulator.samna.device import configured_devkits

    monkeypatch.setenv("HIL_SIM_DEVKITS", "garbage")
    with pytest.raises(ValueError) as error:
        configured_devkits()
    one_line(str(error.value), "HIL_SIM_DEVKITS")
    code, _, err = cli(
        capsys,
        "replay",
        "--model",
        GOOD_MODEL,
        "--recording",
        REPO / "recordings" / "poisson_34.h5",
    )
    assert code == EXIT_BAD_INPUT
    one_line(err, "HIL_SIM_DEVKITS")
