"""``speck-hil sweep``: SynSense's first-layer scale sweep, run on a device."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.cli.common import EXIT_OK, MODEL_HELP, positive_numbers


def add_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="normalise, convert and scale an ANN's first layer; pick the factor on the chip",
        description=(
            "SynSense's rate-coded conversion, measured: normalise ANN's activations on event "
            "frames of the dataset (sinabs.utils.normalize_weights), convert it "
            "(sinabs.from_torch.from_model), scale the first layer by each factor, deploy "
            "each SNN on --device and replay the dataset. Per factor: accuracy with its "
            "Wilson 95 %% interval on the chip and in sinabs, output spikes, silent samples, "
            "each layer's onset, SynOps/s per core against the budget (sinabs.hooks' estimate "
            "beside it), stall, latency, power. The chosen factor is the best accuracy whose "
            "every core stays within budget x (1 - margin) without a stall."
        ),
    )
    sweep.add_argument("--ann", required=True, help=MODEL_HELP + " (an ANN: Conv2d/Linear + ReLU)")
    sweep.add_argument(
        "--dataset", required=True, help="a labelled dataset's name (e.g. digits, shipped)"
    )
    sweep.add_argument("--split", default="test", help="the dataset's split (default: test)")
    sweep.add_argument(
        "--factors",
        type=positive_numbers,
        default=(1.0, 2.0, 3.0, 5.0, 7.0, 10.0),
        metavar="LIST",
        help="first-layer scale factors (default: 1,2,3,5,7,10)",
    )
    sweep.add_argument("--device", default="sim", help="device spec (default: sim)")
    sweep.add_argument("--profile", type=Path, help="device profile override (TOML)")
    sweep.add_argument("--percentile", type=float, default=99.0, help="normalisation percentile")
    sweep.add_argument(
        "--margin", type=float, default=0.1, help="headroom kept below each core's budget"
    )
    sweep.add_argument(
        "--samples-per-class",
        type=int,
        metavar="N",
        help="only the first N samples of each class (default: every sample)",
    )
    sweep.add_argument("--format", choices=("table", "json"), default="table")
    sweep.add_argument(
        "--out", type=Path, metavar="DIR", help="write sweep.json and pareto.png into DIR"
    )
    sweep.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from hil import backends, recordings
    from hil.chip.profile import load_profile
    from hil.conversion import sweep
    from hil.conversion.output import as_json, format_table, plot_pareto, progress_line
    from hil.files import unwritable_dir
    from hil.models import load_model
    from hil.recordings.datasets import dataset

    if not 0 <= args.margin < 1:
        raise ValueError(f"--margin {args.margin}: must be in [0, 1)")
    if not 0 < args.percentile <= 100:
        raise ValueError(f"--percentile {args.percentile}: must be in (0, 100]")
    if args.out is not None and (problem := unwritable_dir(args.out)):
        raise ValueError(f"--out {args.out}: {problem}")
    labelled = dataset(args.dataset, args.split, recordings.recordings_dir())
    if args.samples_per_class is not None:
        if args.samples_per_class < 1:
            raise ValueError(f"--samples-per-class {args.samples_per_class}: must be ≥ 1")
        labelled = labelled.per_class(args.samples_per_class)
    spec = backends.parse_device_spec(args.device)
    load_profile(spec.profile_name, override=args.profile)  # refused before any work
    ann = load_model(args.ann)
    with backends.open_device(args.device, profile=args.profile) as device:
        print(f"sweeping {labelled.describe()} on {device.info}", file=sys.stderr)
        result = sweep(
            device,
            ann,
            labelled,
            args.factors,
            percentile=args.percentile,
            margin=args.margin,
            on_factor=lambda f, i, n: print(progress_line(f, i, n), file=sys.stderr, flush=True),
        )
    document = as_json(result)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep.json").write_text(json.dumps(document, indent=2) + "\n")
        plot_pareto(result, args.out / "pareto.png")
        print(f"wrote {args.out / 'sweep.json'} and {args.out / 'pareto.png'}", file=sys.stderr)
    print(json.dumps(document, indent=2) if args.format == "json" else format_table(result))
    return EXIT_OK
