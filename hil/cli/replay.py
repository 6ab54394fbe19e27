"""``speck-hil replay``: deploy a network, replay a recording through it, print the verdicts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from hil import backends, recordings
from hil.chip.profile import load_profile
from hil.cli.common import (
    EXIT_FAILED,
    MODEL_HELP,
    positive_seconds,
    print_rows,
    refuse_unwritable,
    shape3,
)
from hil.events import spikes_as_events


def add_parser(commands: argparse._SubParsersAction) -> None:
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
        type=shape3,
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
        type=positive_seconds,
        metavar="S",
        help="how long after the last input the device may take to go quiet (default 5 s; "
        "device time on an emulated devkit)",
    )
    replay.add_argument(
        "--out", type=Path, help="save the outputs as an HDF5 recording (x, y, p=feature)"
    )
    replay.set_defaults(command=_replay)


def _replay(args: argparse.Namespace) -> int:
    # torch and sinabs load only for a command that needs them
    from hil.analysis.agreement import exit_cores, silent_layers
    from hil.models import load_model

    if args.out:
        refuse_unwritable(args.out, "--out")
    spec = backends.parse_device_spec(args.device)
    load_profile(spec.profile_name, override=args.profile)  # refused before any work
    recording = _recording(args.recording)
    shape = args.input_shape or tuple(recording.sensor_size[i] for i in (2, 1, 0))
    net = load_model(args.model)  # an input shape it cannot take: refused by deploy
    with backends.open_device(args.device, profile=args.profile) as device:
        deployment = device.deploy(net, shape, reset=args.reset, monitor=args.monitor)
        run = deployment.replay(recording, timeout_s=args.timeout)
    rows = _run_summary(device, recording, run)
    silent = silent_layers(run)
    print_rows(rows + [("silent", line) for line in silent.values()])
    failed = _print_verdicts(run, args.monitor)
    if args.out:
        outputs = run.outputs
        events = spikes_as_events(outputs)
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
    from hil.analysis.checks import HilMeasure
    from hil.measurement import Outcome

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
    skipped += [m.note for m in measure if m.outcome is Outcome.SKIPPED and m.note]
    for reason in skipped:
        print(f"  not judged: {reason}")
    failures = measure.failures
    unsure = [m for m in judged if m.outcome is Outcome.MARGINAL]
    if failures:
        print(f"{len(failures)} of {len(judged)} verdicts failed")
    elif unsure:  # "all pass" would hide what could not be told
        print(f"no verdict failed; {len(unsure)} marginal: {', '.join(m.name for m in unsure)}")
    else:
        print("all verdicts pass")
    return bool(failures)


def _recording(reference: str) -> recordings.Recording:
    """A file, or a name in ``$HIL_RECORDINGS`` or ``./recordings``, else a shipped example."""
    from hil.recordings import folders

    return folders.resolve(reference, recordings.recordings_dir())


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
