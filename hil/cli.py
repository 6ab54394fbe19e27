"""The ``speck-hil`` command line.

Errors a user can fix (a bad file, a wrong option) end the command with status 2 and one line
on stderr naming the file and the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hil import __version__, backends, chatter, cli_calibrate, recordings, synthetic
from hil.chip.devices import DEVICE_TYPES
from hil.chip.profile import load_profile
from hil.environment import check_environment
from hil.events import EVENT_DTYPE, EventError
from hil.files import unwritable_file
from hil.history.cli import add_history_commands
from hil.samna_guard import guard_samna_import

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DEVICE = 3


MODEL_HELP = (
    "FILE.pt (a network saved with torch.save: loaded as data, never run), or "
    "module:function / file.py:function returning a sinabs network: these are code and run "
    "as Python, like any script you run"
)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of the command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    guard_samna_import()  # before a model file imports sinabs: never PyPI's placeholder samna
    chatter.quiet()  # sinabs' warnings a deploy always gives, as in pytest
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        check_environment()
        return args.command(args)
    except (recordings.RecordingError, EventError, ValueError) as exc:  # ModelError too
        print(f"speck-hil: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except backends.DeviceError as exc:
        print(f"speck-hil: device error: {exc}", file=sys.stderr)
        return EXIT_DEVICE


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="speck-hil",
        description="Hardware-in-the-loop tests for SynSense Speck devkits.",
    )
    parser.add_argument("--version", action="version", version=f"speck-hil {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    rec = commands.add_parser(
        "recordings",
        help="inspect, convert, add to a suite, verify and synthesize event recordings",
        description="Event recordings: native HDF5, tonic-style .npy and AEDAT4.",
    )
    rec_commands = rec.add_subparsers(title="commands", metavar="COMMAND")

    info = rec_commands.add_parser(
        "info", help="events, duration, sensor size, event rates and sha256 of files"
    )
    info.add_argument("files", nargs="+", type=Path, metavar="FILE")
    info.set_defaults(command=_info)

    convert = rec_commands.add_parser(
        "convert", help="convert any readable recording to the native HDF5 layout"
    )
    convert.add_argument("source", type=Path, metavar="IN")
    convert.add_argument("target", type=Path, metavar="OUT")
    convert.add_argument(
        "--sensor-size", type=_size3, metavar="WxHxP", help="for .npy files that carry none"
    )
    convert.set_defaults(command=_convert)

    add = rec_commands.add_parser(
        "add",
        help="convert recordings into a suite's folder and write their manifest entries",
        description=(
            "Convert each FILE (native HDF5, tonic-style .npy or AEDAT4) into DIR as NAME.h5 "
            "and write its manifest entry: sha256, event count, duration, sensor size. Every "
            "file is read before anything is written."
        ),
    )
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument(
        "--dir",
        type=Path,
        default=Path("recordings"),
        help="the suite's recordings folder (default: recordings/)",
    )
    add.add_argument("--name", help="name in the manifest (one FILE only; default: its stem)")
    add.add_argument("--description", default="", help="a one-line description")
    add.set_defaults(command=_add)

    verify = rec_commands.add_parser(
        "verify", help="check that every manifest entry loads and matches its sha256"
    )
    verify.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"folder holding manifest.toml (default: ${recordings.RECORDINGS_ENV} or recordings/)",
    )
    verify.set_defaults(command=_verify)

    synth = rec_commands.add_parser(
        "synth",
        help="write a seeded synthetic recording",
        description=(
            "Write a deterministic synthetic recording. poisson: uniform random events; "
            "moving-bar: an edge sweeping across the sensor; burst: a quiet stream with a "
            "dense burst in the middle (for overloading a core)."
        ),
    )
    synth.add_argument(
        "kind",
        choices=sorted(synthetic.GENERATORS),
        metavar="KIND",
        help=f"one of: {', '.join(sorted(synthetic.GENERATORS))}",
    )
    synth.add_argument("out", type=Path, metavar="OUT")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--duration", type=float, default=1.0, metavar="S", help="seconds (default 1)"
    )
    synth.add_argument(
        "--rate", type=float, default=100_000, metavar="EV/S", help="events/s (default 1e5)"
    )
    synth.add_argument(
        "--size", type=_size2, default=(128, 128), metavar="WxH", help="default 128x128"
    )
    synth.add_argument("--bar-width", type=int, default=4, help="moving-bar: pixels (default 4)")
    synth.add_argument("--sweeps", type=int, default=1, help="moving-bar: sweeps (default 1)")
    synth.add_argument(
        "--burst-rate", type=float, metavar="EV/S", help="burst: events/s (default 20x --rate)"
    )
    synth.add_argument(
        "--burst-duration", type=float, metavar="S", help="burst: seconds (default duration/10)"
    )
    synth.add_argument(
        "--add-to-manifest",
        metavar="DESCRIPTION",
        help="add OUT, with this one-line description, to the manifest.toml beside it",
    )
    synth.set_defaults(command=_synth)

    init = commands.add_parser(
        "init",
        help="write a lab suite (pytest.ini, example test, recordings folder) into DIR",
        description=(
            "Write a lab suite into DIR: a pytest.ini with the harness's options, an example "
            "test that builds its own network and uses every check, a recordings/ folder with "
            "a manifest, and a README. It passes at once on the emulated devkit: pytest DIR."
        ),
    )
    init.add_argument("directory", type=Path, metavar="DIR")
    init.set_defaults(command=_init)

    devices = commands.add_parser(
        "devices",
        help="list the devices this machine can open, and which samna it has",
        description=(
            "List every device --device can name here: real devkits (only with the real "
            "samna), the emulated devkits and the software backends. Never imports samna "
            "to find out which one is installed."
        ),
    )
    devices.add_argument(
        "--profile", type=Path, help="device profile override: whose budgets to report"
    )
    devices.set_defaults(command=_devices)

    replay = commands.add_parser(
        "replay",
        help="deploy a network, replay a recording, print a summary",
        description="Deploy MODEL on --device, replay a recording through it and summarise.",
    )
    replay.add_argument("--device", default="sim", help="device spec (default: sim)")
    replay.add_argument("--model", required=True, help=MODEL_HELP)
    replay.add_argument("--recording", required=True, help="a recording file, or a manifest name")
    replay.add_argument(
        "--input-shape",
        type=_shape3,
        metavar="C,H,W",
        help="network input (default: the recording's P,H,W)",
    )
    replay.add_argument(
        "--reset",
        choices=("subtract", "zero"),
        help="reset mode (default: as the network's sinabs neurons say)",
    )
    replay.add_argument("--monitor", choices=("exit", "all"), default="exit")
    replay.add_argument("--profile", type=Path, help="device profile override (TOML)")
    replay.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="S",
        help="how long after the last input the device may take to go quiet (default 5 s; "
        "device time on an emulated devkit)",
    )
    replay.add_argument(
        "--out", type=Path, help="save the outputs as an HDF5 recording (x, y, p=feature)"
    )
    replay.set_defaults(command=_replay)

    check = commands.add_parser(
        "check",
        help="will this network fit and behave on the chip? (no device needed)",
        description=(
            "Map MODEL onto the chip with sinabs' mapper and print, per core, the kernel, "
            "neuron and bias memory it uses against what the core has, the largest weight "
            "against the threshold, and every finding: memory or shape limits broken, "
            "threshold_low = 0, weights above threshold, a reset mode that contradicts how "
            "the network was made. Exit status 1 when there is an error finding, 2 when the "
            "network has a layer no Speck core can run (MaxPool2d, LSTM, an unconverted ReLU)."
        ),
    )
    check.add_argument("--model", required=True, help=MODEL_HELP)
    check.add_argument("--input-shape", type=_shape3, required=True, metavar="C,H,W")
    check.add_argument(
        "--device",
        default="sim",
        help="device spec whose chip type to check against, as for replay (default: sim, "
        "an emulated speck2fmodule); nothing is opened",
    )
    check.add_argument(
        "--reset",
        choices=("subtract", "zero"),
        help="reset mode (default: as the network's sinabs neurons say)",
    )
    check.add_argument("--profile", type=Path, help="device profile override (TOML)")
    check.set_defaults(command=_check)
    add_history_commands(commands)
    cli_calibrate.add_parser(commands)
    return parser


def _size2(text: str) -> tuple[int, int]:
    return _size(text, 2)


def _size3(text: str) -> tuple[int, int, int]:
    return _size(text, 3)


def _shape3(text: str) -> tuple[int, int, int]:
    return _size(text.replace(",", "x"), 3)


def _size(text: str, parts: int) -> tuple:
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != parts or min(size) < 1:
        shape = "x".join("WHP"[:parts])
        raise argparse.ArgumentTypeError(f"expected {shape} with positive integers, got {text!r}")
    return size


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _writable(path: Path, option: str) -> None:
    """Refuse an output path before any work is done for it."""
    problem = unwritable_file(path)
    if problem:
        raise ValueError(f"{option} {path}: {problem}")


def _info(args: argparse.Namespace) -> int:
    failures = []
    for path in args.files:
        try:
            recording = recordings.load(path)
            events = recording.events
        except (recordings.RecordingError, EventError) as exc:
            failures.append(str(exc))
            continue
        print(path)
        rows = _describe(recording, events)
        width = max(len(label) for label, _ in rows) + 2
        for label, value in rows:
            print(f"  {label:<{width}}{value}")
    for failure in failures:
        print(f"speck-hil: error: {failure}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else 0


def _describe(recording: recordings.Recording, events: np.ndarray) -> list[tuple[str, str]]:
    duration_s = recording.duration_us / 1e6
    rows = [
        ("events", f"{len(events):,}"),
        ("duration", f"{duration_s:.6g} s"),
        ("sensor", " x ".join(str(s) for s in recording.sensor_size) + "  (W x H x P)"),
    ]
    if len(events):
        per_ms = np.unique((events["t"] - events["t"][0]) // 1000, return_counts=True)[1]
        mean = len(events) / duration_s if duration_s > 0 else float("nan")
        peak = per_ms.max() * 1000
        rows.append(("rate", f"mean {_rate(mean)}, peak {_rate(peak)} (1 ms windows)"))
    rows.append(("sha256", recording.sha256))
    for key, value in recording.metadata.items():
        rows.append((key, str(value)))
    return rows


def _rate(events_per_s: float) -> str:
    for scale, unit in ((1e6, "M"), (1e3, "k")):
        if events_per_s >= scale:
            return f"{events_per_s / scale:.3g} {unit}ev/s"
    return f"{events_per_s:.3g} ev/s"


def _convert(args: argparse.Namespace) -> int:
    _writable(args.target, "OUT")
    recording = recordings.load(args.source, sensor_size=args.sensor_size)
    metadata = {k: v for k, v in recording.metadata.items() if isinstance(v, (str, int, float))}
    metadata.setdefault("source", args.source.name)
    recordings.save(args.target, recording.events, recording.sensor_size, **metadata)
    print(f"{args.source} -> {args.target}: {len(recording):,} events")
    return 0


def _add(args: argparse.Namespace) -> int:
    from hil import recording_folders

    for entry in recording_folders.add(args.files, args.dir, args.name, args.description):
        print(
            f"{entry.file}: {entry.name!r} added, {entry.events:,} events over "
            f"{entry.duration_us / 1e6:.6g} s, sensor "
            f"{'x'.join(map(str, entry.sensor_size))}, sha256 {entry.sha256[:12]}"
        )
    print(f"manifest: {args.dir / recordings.MANIFEST}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from hil import scaffold

    for path in scaffold.init_suite(args.directory):
        print(f"wrote {path}")
    print(f"run it: pytest {args.directory}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    entries = recordings.read_manifest(args.dir)
    failures = []
    for name, entry in sorted(entries.items()):
        try:
            recordings.verify_entry(entry)
        except (recordings.RecordingError, EventError) as exc:
            print(f"FAIL  {name}")
            failures.append(str(exc))
            continue
        print(
            f"ok    {name:<24}{entry.events:>10,} events  {entry.sha256[:12]}  {entry.description}"
        )
    for failure in failures:
        print(f"speck-hil: error: {failure}", file=sys.stderr)
    print(f"{len(entries) - len(failures)} of {len(entries)} recordings verified")
    return EXIT_BAD_INPUT if failures else 0


def _synth(args: argparse.Namespace) -> int:
    _writable(args.out, "OUT")
    for name, value in (("--rate", args.rate), ("--duration", args.duration)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} {value:g}: must be a positive number")
    options: dict = {"seed": args.seed, "size": args.size}
    if args.kind == "moving-bar":
        options |= {"bar_width": args.bar_width, "sweeps": args.sweeps}
    if args.kind == "burst":
        options |= {"burst_rate": args.burst_rate, "burst_duration_s": args.burst_duration}
    events = synthetic.GENERATORS[args.kind](args.rate, args.duration, **options)
    parameters = " ".join(
        f"{k}={'x'.join(map(str, v)) if k == 'size' else v}"
        for k, v in options.items()
        if v is not None
    )
    recordings.save(
        args.out,
        events,
        args.size,
        source=f"speck-hil recordings synth {args.kind}",
        parameters=f"rate={args.rate:g} duration_s={args.duration:g} {parameters}",
        description=args.add_to_manifest or "",
    )
    print(f"{args.out}: {len(events):,} {args.kind} events over {args.duration:g} s")
    if args.add_to_manifest is not None:
        manifest = recordings.add_to_manifest(args.out, args.add_to_manifest)
        print(f"{manifest}: entry {args.out.stem!r} written")
    return 0


def _devices(args: argparse.Namespace) -> int:
    install = backends.detect_samna()
    if install.kind == "real":
        print(f"samna {install.version} (real) at {install.location}")
    else:
        print(f"samna: {backends.no_real_samna(install)}")
    listed = backends.list_devices()
    width = max(len(d.spec) for d in listed) + 2
    print(f"{'DEVICE':<{width}}{'KIND':<10}DESCRIPTION")
    for device in listed:
        print(f"{device.spec:<{width}}{device.kind:<10}{device.description}")
    for chip in sorted({chip for _, chip in DEVICE_TYPES.values()}):
        print(f"profile {chip}: {load_profile(chip, override=args.profile).budgets_note}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    # torch and sinabs load only for a command that needs them
    from hil.analysis.agreement import exit_cores, silent_layers
    from hil.models import load_model

    if args.out:
        _writable(args.out, "--out")
    spec = backends.parse_device_spec(args.device)
    load_profile(spec.profile_name, override=args.profile)  # refused before any work
    recording = _recording(args.recording)
    shape = args.input_shape or tuple(recording.sensor_size[i] for i in (2, 1, 0))
    net = load_model(args.model)  # an input shape it cannot take: refused by deploy
    with backends.open_device(args.device, profile=args.profile) as device:
        deployment = device.deploy(net, shape, reset=args.reset, monitor=args.monitor)
        run = deployment.replay(recording, timeout_s=args.timeout)
    rows = _run_summary(device, recording, run)
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"  {label:<{width}}{value}")
    silent = silent_layers(run)
    for line in silent.values():
        print(f"  {'silent':<{width}}{line}")
    failed = _print_verdicts(run, args.monitor)
    if args.out:
        outputs = run.outputs
        events = np.empty(len(outputs), dtype=EVENT_DTYPE)
        events["t"], events["x"], events["y"] = outputs["t"], outputs["x"], outputs["y"]
        events["p"] = outputs["feature"]
        size = (int(events["x"].max(initial=0)) + 1, int(events["y"].max(initial=0)) + 1)
        recordings.save(
            args.out,
            events,
            (*size, int(events["p"].max(initial=0)) + 1),
            source=f"speck-hil replay of {recording.name} on {device.info}",
            cores=",".join(str(c) for c in np.unique(outputs["layer"])),
        )
        print(f"outputs saved to {args.out}")
    exits = [core for core in exit_cores(deployment) if core in silent]
    if exits:
        print(
            f"speck-hil: fail: {silent[exits[0]]}: the network's output is empty", file=sys.stderr
        )
        return EXIT_FAILED
    return 1 if failed else 0


def _print_verdicts(run, monitor: str) -> bool:
    """Every check the run allows, each with its limit; True when one failed."""
    from hil.checks import HilMeasure

    measure = HilMeasure()
    measure.fits_memory(run.deployment)
    skipped = []
    if run.dt_us is not None:
        skipped.append(f"stall and SynOps/s: {run.deployment.device.info} is time-stepped")
    else:
        measure.no_stall(run)
        if monitor == "all":
            measure.synops_within_budget(run)
        else:
            skipped.append("SynOps/s per core: needs every core's outputs (--monitor all)")
    judged = [m for m in measure if m.lower is not None or m.upper is not None]
    width = max(len(m.name) for m in judged) + 2
    print("verdicts:")
    for m in judged:
        note = f"  ({m.note})" if m.failed and m.note else ""
        print(f"  {m.name:<{width}}{m.value_text():<22}limit {m.limit_text():<22}{m.outcome}{note}")
    for reason in skipped:
        print(f"  not judged: {reason}")
    failures = measure.failures
    print(f"{len(failures)} of {len(judged)} verdicts failed" if failures else "all verdicts pass")
    return bool(failures)


def _check(args: argparse.Namespace) -> int:
    from hil.analysis.lints import check_network, format_core_table
    from hil.models import load_model

    spec = backends.parse_device_spec(args.device)
    profile = load_profile(spec.profile_name, override=args.profile)
    net = load_model(args.model)
    report = check_network(
        net, args.input_shape, spec.device_type, profile=profile, reset=args.reset
    )
    print(format_core_table(report))
    errors, warnings = len(report.errors), len(report.warnings)
    print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _recording(reference: str) -> recordings.Recording:
    """A file, or a name in ``$HIL_RECORDINGS`` or ``./recordings``, else a shipped example."""
    from hil import recording_folders

    path = Path(reference)
    if path.suffix or path.exists():
        return recordings.load(path)
    return recording_folders.by_name(reference, recordings.recordings_dir())


def _run_summary(device, recording, run) -> list[tuple[str, str]]:
    from hil.analysis.delay import output_delays

    outputs, inputs = run.outputs, run.inputs
    per_core = ", ".join(
        f"core {core}: {count:,}"
        for core, count in zip(*np.unique(outputs["layer"], return_counts=True), strict=True)
    )
    rows = [
        ("device", str(device.info)),
        ("recording", f"{recording.name} ({recording.duration_us / 1e6:.3g} s)"),
        ("events in", f"{len(inputs):,}"),
        ("events out", f"{len(outputs):,}" + (f"  ({per_core})" if per_core else "")),
        ("replay wall time", f"{run.wall_s:.3f} s"),
    ]
    if run.host_limited:
        rows.append(
            (
                "HOST-LIMITED",
                f"the host wrote inputs up to {run.host_lag_us:,.0f} µs after they were due: "
                "output delay below is the host's, not the chip's",
            )
        )
    if len(outputs) and len(inputs):
        drain = int(outputs["t"].max()) - int(inputs["t"][-1])
        rows.append(("drain after input", f"{max(drain, 0):,} µs"))
        delays = output_delays(run)
        if delays is not None and len(delays.delay_us):
            rows.append(
                (
                    "output delay",
                    f"max {delays.delay_us.max():,.0f} µs, "
                    f"p99 {np.percentile(delays.delay_us, 99):,.0f} µs "
                    f"({len(delays.delay_us):,} outputs matched)",
                )
            )
    return rows


if __name__ == "__main__":
    sys.exit(main())
