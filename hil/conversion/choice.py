"""Which factor to use: the best accuracy whose every core stays within budget × (1 − margin)
with no stall; ties go to the factor with fewer SynOps. When every factor is ruled out, the
binding core is the one most loaded at the least loaded factor: the core that rules out even
the cheapest choice (on a stall with every core inside its believed budget, the busiest core
is where the chip's true budget is lower than the profile says)."""

from __future__ import annotations

from collections.abc import Sequence

from hil.conversion.results import FactorResult


def choose(factors: Sequence[FactorResult], margin: float) -> tuple[float | None, int | None, str]:
    """(chosen factor or None, binding core or None, why)."""
    allowed = [f for f in factors if f.within_budget(margin) and not f.stalled]
    ruled_out = [f for f in factors if f not in allowed]
    if allowed:
        best = max(allowed, key=lambda f: (f.accuracy.chip.accuracy, -f.total_peak()))
        better = [f for f in ruled_out if f.accuracy.chip.accuracy > best.accuracy.chip.accuracy]
        if not any(f.cores for f in factors):
            return (
                best.factor,
                None,
                (
                    f"factor {best.factor:g}: the best accuracy; SynOps/s and stalls are not "
                    "judged on a device without time"
                ),
            )
        if not better:
            return best.factor, None, f"factor {best.factor:g}: the best accuracy within budget"
        binding = _busiest_core(min(better, key=_highest_load))
        return (
            best.factor,
            binding,
            f"factor {best.factor:g}: the better factors "
            f"({', '.join(f'{f.factor:g}' for f in better)}) are ruled out by core {binding} "
            f"({_why(better[0], margin)})",
        )
    cheapest = min(factors, key=_highest_load)
    binding = _busiest_core(cheapest)
    return (
        None,
        binding,
        (
            f"none: core {binding} rules out every factor, even {cheapest.factor:g} "
            f"({_why(cheapest, margin)})"
        ),
    )


def _highest_load(factor: FactorResult) -> float:
    return max((core.load for core in factor.cores.values()), default=0.0)


def _busiest_core(factor: FactorResult) -> int | None:
    if not factor.cores:
        return None
    return max(factor.cores.values(), key=lambda core: core.load).core


def _why(factor: FactorResult, margin: float) -> str:
    parts = []
    over = [c for c in factor.cores.values() if c.peak > c.budget * (1 - margin)]
    for core in over:
        parts.append(
            f"core {core.core} peaks at {core.peak:.3g} SynOps/s, over {1 - margin:.0%} of its "
            f"budget {core.budget:.3g}"
        )
    if factor.stalled:
        parts.append(
            f"{factor.stalled_samples} of {factor.n} samples stalled: {factor.stall_reasons[0]}"
        )
    return "; ".join(parts)
