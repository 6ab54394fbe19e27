"""``speck-hil calibrate``: measure a chip's budgets, latency and power into a profile."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from hil.cli.common import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_FAILED


def add_parser(commands: argparse._SubParsersAction) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="measure each core's SynOps/s budget, the latency and the power into a profile",
        description=(
            "For each core, offer a calibration network input at increasing load and find "
            "the load at which the output delay stops being flat and grows (the core's "
            "SynOps/s budget); also the pipeline latency and, with a power monitor, idle power "
            "per rail and energy per SynOp. Writes a device profile (use it with --profile) "
            "and a picture per core. A device that fails midway keeps the finished cores, "
            "marked partial (exit status 3)."
        ),
    )
    calibrate.add_argument("--device", default="sim", help="device spec (default: sim)")
    calibrate.add_argument("--out", type=Path, required=True, help="profile to write (TOML)")
    calibrate.add_argument(
        "--cores", type=_cores, metavar="LIST", help="comma-separated cores (default: all)"
    )
    calibrate.add_argument(
        "--profile", type=Path, help="base profile override: what the harness believes now"
    )
    calibrate.add_argument(
        "--pictures",
        type=Path,
        metavar="DIR",
        help="folder for a PNG per core (default: beside --out, named OUT-pictures)",
    )
    calibrate.add_argument(
        "--step", type=float, default=0.1, metavar="S", help="seconds of input per step"
    )
    calibrate.set_defaults(command=run)


def _cores(text: str) -> list[int]:
    try:
        cores = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cores like 0,3,8; got {text!r}") from None
    if not cores:
        raise argparse.ArgumentTypeError("no core given")
    return cores


def run(args: argparse.Namespace) -> int:
    from hil import backends
    from hil.calibration.board_facts import rest_on_board_facts
    from hil.calibration.search import calibrate
    from hil.files import unwritable_file

    for option, path in (("--out", args.out), ("--pictures", args.pictures)):
        problem = path is not None and unwritable_file(
            path / "core0.png" if option == "--pictures" else path
        )
        if problem:  # refused before minutes of measuring are spent
            raise ValueError(f"{option} {path}: {problem}")
    if not (math.isfinite(args.step) and args.step > 0):  # inf would never end, nan never start
        raise ValueError(f"--step {args.step}: must be positive and finite")
    pictures = args.pictures or args.out.with_name(f"{args.out.stem}-pictures")
    with backends.open_device(args.device, profile=args.profile) as device:
        base = device.profile
        print(f"calibrating {device.info}; the harness's profile: {base.source}")
        facts = rest_on_board_facts(device)
        if facts:
            print(f"  {facts}")
        print(f"  before: {base.budgets_note}")
        result = calibrate(device, args.cores, step_s=args.step, on_step=_progress)
    for line in _summary(result, base):
        print(line)
    status = _save(result, base, args.out, pictures) if result.cores else 0
    if result.error:
        print(f"speck-hil: device error: {result.error}", file=sys.stderr)
        return EXIT_DEVICE
    for reason in result.unmeasured.values():
        print(f"speck-hil: not measured: {reason}", file=sys.stderr)
    return status or (EXIT_FAILED if result.unmeasured else 0)


def _save(result, base, out: Path, pictures: Path) -> int:
    """Write the profile and the pictures. A file that cannot be written after all loses
    nothing measured: the profile goes to the current folder instead."""
    from hil.calibration.plot import plot_core
    from hil.calibration.profile import write_profile

    status = 0
    try:
        write_profile(out, result, base)
    except OSError as exc:
        fallback = Path.cwd() / f"speck-hil-calibration-{result.date[:19].replace(':', '')}.toml"
        write_profile(fallback, result, base)
        print(
            f"speck-hil: error: --out {out}: cannot write ({exc.strerror or exc}); "
            f"the calibration is in {fallback}",
            file=sys.stderr,
        )
        out, status = fallback, EXIT_BAD_INPUT
    print(f"profile written to {out}" + (" (PARTIAL)" if result.partial else ""))
    try:
        for core in result.cores.values():
            plot_core(pictures / f"core{core.core}.png", core, base.synops_per_s[core.core])
    except OSError as exc:
        print(f"speck-hil: error: pictures {pictures}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"pictures under {pictures}")
    return status


def _progress(step) -> None:
    verdict = step.verdict
    detail = (
        f"growth {step.growth_us:,.0f} µs"
        if step.grows is not None
        else f"delay {step.delay_start_us:,.1f} µs"
    )
    print(
        f"core {step.core}  step {step.index:>2}  {step.phase:<8} offered "
        f"{step.offered_synops_per_s:9.4g} SynOps/s ({step.events_per_s:>9,.0f} ev/s)  "
        f"{verdict:<8} {detail}",
        flush=True,
    )


def _summary(result, base) -> list[str]:
    lines = [
        "",
        "core  budget (SynOps/s)  interval                 believed   latency (µs)  pJ/SynOp",
    ]
    for core in result.cores.values():
        low, high = core.synops_per_s_ci
        energy = f"{core.energy_per_synop_j * 1e12:.3g}" if core.energy_per_synop_j else "-"
        lines.append(
            f"{core.core:>4}  {core.synops_per_s:>17.4g}  {low:.4g}–{high:.4g}  "
            f"{base.synops_per_s[core.core]:>9.3g}  {core.latency_us:>12.3g}  {energy:>8}"
        )
    latency = result.pipeline_latency_us()
    if latency:
        lines.append(
            f"pipeline latency {latency[0]:.3g} µs (cores range {latency[1][0]:.3g}–"
            f"{latency[1][1]:.3g})"
        )
    idle = [c.idle_w for c in result.cores.values() if c.idle_w]
    if idle:
        total = sum(sum(w) for w in idle) / len(idle)
        lines.append(f"idle power {total * 1e3:.3g} mW")
    missing = [c for c in result.requested if c not in result.cores]
    if missing:
        lines.append(f"NOT measured: cores {','.join(map(str, missing))}")
    lines.append(
        f"took {result.wall_s:.1f} s here for {len(result.steps)} steps, "
        f"{result.device_time_s:.1f} s of chip time; on a real devkit about "
        f"{result.estimated_real_s:.0f} s (chip time + an assumed "
        "0.5 s per step to write the configuration and drain)"
    )
    return lines
