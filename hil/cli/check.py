"""``speck-hil check``: will this network fit and behave on the chip? No device needed."""

from __future__ import annotations

import argparse
from pathlib import Path

from hil import backends, recordings
from hil.chip.profile import load_profile
from hil.cli.common import EXIT_FAILED, EXIT_OK, MODEL_HELP, shape3
from hil.recordings import folders


def add_parser(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="will this network fit and behave on the chip? (no device needed)",
        description=(
            "Map MODEL onto the chip with sinabs' mapper and print, per core, the kernel, "
            "neuron and bias memory it uses against what the core has, the largest weight "
            "against the threshold, and every finding: memory or shape limits broken, "
            "threshold_low = 0, weights above threshold, a reset mode that contradicts how "
            "the network was made. Exit status 1 when there is an error finding, 2 when the "
            "network has a layer no Speck core can run (MaxPool2d, LSTM, an unconverted ReLU). "
            "With --recording, the recording is replayed on --device (opened then) and each "
            "core's SynOps/s printed four ways with the unit each was asked in."
        ),
    )
    check.add_argument("--model", required=True, help=MODEL_HELP)
    check.add_argument("--input-shape", type=shape3, required=True, metavar="C,H,W")
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
    check.add_argument(
        "--recording",
        help="also replay this recording (file or manifest name) on --device and print each "
        "core's SynOps/s as the device counted it beside the seed's formula and sinabs' two "
        "estimates, each with its unit of dt",
    )
    check.set_defaults(command=_check)


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
    if args.recording and not errors:
        _units_table(args, net)
    return EXIT_FAILED if errors else EXIT_OK


def _units_table(args: argparse.Namespace, net) -> None:
    """Replay ``--recording`` and print the SynOps/s table of ``hil.analysis.synops_units``."""
    from hil.analysis.synops import synops_report
    from hil.analysis.synops_units import format_units_table, hooks_synops_per_s, units_rows

    recording = folders.resolve(args.recording, recordings.recordings_dir())
    with backends.open_device(args.device, profile=args.profile) as device:
        if device.dt_us is not None:
            raise ValueError(f"--device {args.device} is time-stepped: it counts no SynOps/s")
        deployment = device.deploy(net, args.input_shape, reset=args.reset, monitor="all")
        run = deployment.replay(recording)
        report = synops_report(run, compute_sinabs=True)
    hooks = hooks_synops_per_s(net, deployment.mapping, run.inputs)
    print(f"\n{recording.name} on {device.info}:")
    print(format_units_table(units_rows(report, hooks), report.window_us))
