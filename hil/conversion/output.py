"""A sweep's result as a table, as JSON and as a Pareto picture (accuracy against the peak
core load, the budget line, the chosen point)."""

from __future__ import annotations

import math
from pathlib import Path

from hil.analysis.synops_units import DEFAULT_DT_US, US_PER_S
from hil.conversion.results import FactorResult, SweepResult


def as_json(result: SweepResult) -> dict:
    """``{"factors": [...], "chosen": factor|null, "binding_core": int|null, ...}``."""
    return {
        "dataset": result.dataset,
        "device": result.device,
        "margin": result.margin,
        "percentile": result.percentile,
        "factors": [_factor_json(f) for f in result.factors],
        "chosen": result.chosen,
        "binding_core": result.binding_core,
        "reason": result.reason,
    }


def _factor_json(f: FactorResult) -> dict:
    cores = list(f.cores.values())
    sinabs = f.accuracy.sinabs
    return {
        "factor": f.factor,
        "n": f.n,
        "accuracy": f.accuracy.chip.accuracy,
        "ci_low": f.accuracy.chip.ci_low,
        "ci_high": f.accuracy.chip.ci_high,
        "sinabs_accuracy": sinabs.accuracy if sinabs else None,
        "sinabs_ci_low": sinabs.ci_low if sinabs else None,
        "sinabs_ci_high": sinabs.ci_high if sinabs else None,
        "per_class_accuracy": {str(k): s.accuracy for k, s in f.accuracy.per_class.items()},
        "output_spikes_per_sample": f.output_spikes_per_sample,
        "silent_share": f.silent_share,
        "onset": [_finite(f.onset[layer]) for layer in sorted(f.onset)],
        "cores": [c.core for c in cores],
        "synops_peak": [c.peak for c in cores],
        "synops_mean": [c.mean for c in cores],
        "synops_sinabs_hooks": [c.sinabs_hooks for c in cores],
        "synops_budget": [c.budget for c in cores],
        "stalled": f.stalled,
        "stalled_samples": f.stalled_samples,
        "latency_p50_us": f.latency_us.get(50),
        "latency_p95_us": f.latency_us.get(95),
        "power_mw": f.power_mw,
        "energy_uj_per_sample": f.energy_uj_per_sample,
    }


def format_table(result: SweepResult) -> str:
    """Per factor one row; then per factor and core the SynOps/s with sinabs' estimate."""
    layers = sorted({layer for f in result.factors for layer in f.onset})
    onset_head = " ".join(f"{'L' + str(layer):>5}" for layer in layers)
    lines = [
        f"{result.dataset} on {result.device}; budget margin {result.margin:.0%}, "
        f"normalised at percentile {result.percentile:g}",
        f"{'factor':>6} {'n':>4} {'chip accuracy (95% CI)':>24} {'sinabs accuracy (95% CI)':>24} "
        f"{'gap':>6} {'out/smp':>8} {'silent':>6}  onset {onset_head}  {'peak load':>9} "
        f"{'stall':>5} {'p50 µs':>7} {'p95 µs':>7} {'mW':>6} {'µJ/smp':>7}",
    ]
    for f in result.factors:
        sinabs = f.accuracy.sinabs
        onsets = " ".join(_onset(f.onset[layer]) for layer in layers)
        load = max((c.load for c in f.cores.values()), default=math.nan)
        gap = f.accuracy.gap
        lines.append(
            f"{f.factor:>6g} {f.n:>4} {_score(f.accuracy.chip):>24} "
            f"{_score(sinabs) if sinabs else '—':>24} "
            f"{'—' if gap is None else f'{gap:+.3f}':>6} {f.output_spikes_per_sample:>8.1f} "
            f"{f.silent_share:>6.0%}        {onsets}  {load:>9.1%} "
            f"{'yes' if f.stalled else 'no':>5} {_number(f.latency_us.get(50)):>7} "
            f"{_number(f.latency_us.get(95)):>7} {_number(f.power_mw, '.3f'):>6} "
            f"{_number(f.energy_uj_per_sample, '.3g'):>7}"
        )
    chosen = "none" if result.chosen is None else f"{result.chosen:g}"
    lines += ["", f"chosen factor: {chosen} ({result.reason})", ""]
    lines.append(
        f"SynOps/s per core: device peak (10 ms windows) and mean, sinabs.hooks estimate "
        f"(dt={DEFAULT_DT_US / US_PER_S:g} s), budget"
    )
    lines.append(
        f"{'factor':>6} {'core':>4} {'layer':>5} {'peak':>10} {'mean':>10} "
        f"{'sinabs.hooks':>12} {'budget':>10} {'load':>6}"
    )
    for f in result.factors:
        for c in f.cores.values():
            lines.append(
                f"{f.factor:>6g} {c.core:>4} {c.layer:>5} {c.peak:>10.3g} {c.mean:>10.3g} "
                f"{c.sinabs_hooks:>12.3g} {c.budget:>10.3g} {c.load:>6.1%}"
            )
    return "\n".join(lines)


def plot_pareto(result: SweepResult, path: Path) -> Path:
    """Accuracy (with its interval) against the peak core load, one point per factor; the
    budget line at load 1 − margin and 1; the chosen point ringed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    try:
        for f in result.factors:
            load = max((c.load for c in f.cores.values()), default=0.0)
            chip = f.accuracy.chip
            colour = "tab:red" if f.stalled else "tab:blue"
            axes.errorbar(
                load,
                chip.accuracy,
                yerr=[[chip.accuracy - chip.ci_low], [chip.ci_high - chip.accuracy]],
                fmt="o",
                color=colour,
                capsize=3,
            )
            axes.annotate(
                f"×{f.factor:g}", (load, chip.accuracy), textcoords="offset points", xytext=(5, 5)
            )
            if f.factor == result.chosen:
                axes.plot(
                    load,
                    chip.accuracy,
                    "o",
                    ms=14,
                    mfc="none",
                    mec="tab:green",
                    mew=2,
                    label=f"chosen: ×{f.factor:g}",
                )
        axes.axvline(
            1 - result.margin,
            color="tab:orange",
            ls="--",
            label=f"budget × (1 − {result.margin:g})",
        )
        axes.axvline(1.0, color="tab:red", ls=":", label="budget")
        axes.set_xlabel("peak SynOps/s of the busiest core / its budget")
        axes.set_ylabel("chip accuracy (Wilson 95 %)")
        axes.set_ylim(0, 1.02)
        axes.set_title(f"first-layer scale sweep: {result.dataset}", fontsize=9)
        axes.legend(fontsize=8, loc="lower right")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path


def progress_line(f: FactorResult, index: int, total: int) -> str:
    """What the CLI prints as each factor finishes."""
    load = max((c.load for c in f.cores.values()), default=math.nan)
    shown = "n/a" if math.isnan(load) else f"{load:.1%}"
    return (
        f"[{index + 1}/{total}] factor {f.factor:g}: accuracy {_score(f.accuracy.chip)}, "
        f"peak load {shown}, {'STALLED' if f.stalled else 'no stall'}"
    )


def _score(score) -> str:
    return f"{score.accuracy:.3f} [{score.ci_low:.2f}, {score.ci_high:.2f}]"


def _onset(value: float) -> str:
    return f"{'never':>5}" if not math.isfinite(value) else f"{value:>5.2f}"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _number(value: float | None, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)
