"""``speck-hil recordings ...``: inspect, convert, add to a suite, verify, synthesize."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from hil import recordings
from hil.cli.common import (
    EXIT_BAD_INPUT,
    print_rows,
    refuse_unwritable,
    refuse_unwritable_dir,
    size2,
    size3,
)
from hil.events import EventError
from hil.recordings import synthetic


def add_parser(commands: argparse._SubParsersAction) -> None:
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
        "--sensor-size", type=size3, metavar="WxHxP", help="for .npy files that carry none"
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
    add.add_argument(
        "--description", help="a description (default: a replaced entry keeps its own)"
    )
    add.add_argument(
        "--label",
        help="the class of a labelled dataset's sample: a number (the network's output "
        "channel) or a name",
    )
    add.add_argument("--split", help="the dataset split the samples belong to, e.g. test")
    add.add_argument(
        "--replace", action="store_true", help="replace entries of the same name (else refused)"
    )
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
        "--size", type=size2, default=(128, 128), metavar="WxH", help="default 128x128"
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
        print_rows(_describe(recording, events))
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
    refuse_unwritable(args.target, "OUT")
    recording = recordings.load(args.source, sensor_size=args.sensor_size)
    metadata = {k: v for k, v in recording.metadata.items() if isinstance(v, (str, int, float))}
    metadata.setdefault("source", args.source.name)
    recordings.save(args.target, recording.events, recording.sensor_size, **metadata)
    print(f"{args.source} -> {args.target}: {len(recording):,} events")
    return 0


def _add(args: argparse.Namespace) -> int:
    from hil.recordings import folders

    refuse_unwritable_dir(args.dir, "--dir")
    label = int(args.label) if args.label is not None and args.label.isdigit() else args.label
    added = folders.add(
        args.files, args.dir, args.name, args.description, label, args.split, args.replace
    )
    for entry in added:
        print(
            f"{entry.file}: {entry.name!r} added, {entry.events:,} events over "
            f"{entry.duration_us / 1e6:.6g} s, sensor "
            f"{'x'.join(map(str, entry.sensor_size))}, sha256 {entry.sha256[:12]}"
        )
    print(f"manifest: {args.dir / recordings.MANIFEST}")
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
    refuse_unwritable(args.out, "OUT")
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
