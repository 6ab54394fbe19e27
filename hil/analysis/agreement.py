"""Chip against simulation: how far a device run is from sinabs' reference, per layer.

The chip checks the threshold after every event and fires at most once per event; sinabs steps
in bins and (with MultiSpike) may fire several times per bin. They are not expected to agree
spike for spike, so agreement is measured on what a lab cares about, each with a limit:

- ``cosine``: cosine similarity of the per-neuron spike-count maps (1 = same pattern; NaN
  when both are silent: two silent layers agree on nothing);
- ``count_distance``: ‖c_device − c_reference‖ / ‖c_reference‖ of those maps (0 = same
  counts): unlike the cosine it sees a layer that fires everywhere a little more or less;
- ``count_error``: |N_device − N_reference| / N_reference, total spikes of the layer;
- ``rate_distance``: ‖r_device − r_reference‖ / ‖r_reference‖ of the layer's spike-rate series
  in ``bin_us`` bins (0 = same time course), a spike-train distance over time;
- ``class_agreement`` (exit layers only): the fraction of ``class_window_us`` windows in which
  the most active output channel (the predicted class) is the same.

``reset_mode_verdict`` replays one recording against references under both reset modes and
says which one the chip behaves like, so a chip configured with the wrong reset is caught.
The references must resolve what the chip does: under reset to zero a neuron that crosses
threshold twice within one of sinabs' bins fires once there, and on dense input 1 ms bins
lost enough of those spikes that a chip resetting to zero was judged to behave like
'subtract'. By default the references are event-driven (``event_reference``: the ideal chip,
the emulator without time, under each reset mode, one threshold check per input event as on
the chip); ``dt_us`` asks for sinabs' binned forward instead, ``"auto"`` with bins chosen from
the input rate (``resolving_dt_us``). When the two references are too close to tell apart,
or the chip is about as far from both, the verdict is "cannot tell" (``cannot_tell`` says
why), never a mode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hil.analysis.delay import ideal_chip
from hil.analysis.spikes import neuron_keys
from hil.backends.base import RESET_MODES, Deployment, Run
from hil.backends.deploy import reset_mode_of
from hil.emulator.compile import program_from_config
from hil.recordings import Recording

DEFAULT_BIN_US = 10_000
#: The two references must differ by this much (relative count error) for a
#: recording to show how a chip resets.
MIN_REFERENCE_SEPARATION = 0.05
#: The chip must be closer to one reference than to the other by this share of the
#: references' own separation.
MIN_MARGIN_SHARE = 0.2
EVENT_DRIVEN = "event-driven (the ideal chip under each reset)"
#: How far above its expected cosine a chip firing at random neurons was seen to reach (0.047
#: on 157 layers of generated scenarios).
CHANCE_SCATTER = 0.05


@dataclass(frozen=True)
class LayerAgreement:
    layer: int  # sinabs layer index
    core: int
    device_spikes: int
    reference_spikes: int
    cosine: float
    count_distance: float
    count_error: float
    rate_distance: float
    class_agreement: float | None  # None for layers that are not exits
    sampled: str = ""  # why its monitored spikes are a sample of what it fired ("": not)
    chance_cosine: float = float("nan")  # what a chip firing at random neurons would reach

    def cosine_shows_nothing(self, min_cosine: float) -> str | None:
        """Why a cosine that reaches ``min_cosine`` is no evidence here; None where it is.

        A chip that sends this layer's spikes under addresses drawn uniformly from the core
        reaches ``chance_cosine`` (in expectation; a scrambled emulated chip lands within
        ``CHANCE_SCATTER`` of it): where that reaches the limit less the scatter (a flat
        reference map), a pass cannot tell a right chip from one that misaddresses its
        spikes."""
        if not self.cosine >= min_cosine or not self.chance_cosine >= min_cosine - CHANCE_SCATTER:
            return None
        return (
            f"a chip sending these {self.device_spikes:,} spikes to random neurons of the core "
            f"would reach a cosine of about {self.chance_cosine:.3f} (the reference map is "
            "nearly flat): passing shows nothing"
        )

    def cosine_cannot_tell(self, min_cosine: float) -> str | None:
        """Why a cosine under ``min_cosine`` shows nothing here; None where it does.

        A decimator passes every N-th spike of its core in the order they leave, so which
        neurons' spikes it keeps depends on every spike before: a chip that loses, adds or
        reorders one spike keeps another sample from there on (a right chip at the shipped
        ``noisy`` profile's noise, its neurons firing once or twice, read cosines of 0.17–0.48
        on a decimated first layer). Its count map cannot tell such a chip from one that
        misaddresses its spikes; a cosine that reaches the limit still shows agreement.
        """
        if not self.sampled or self.cosine >= min_cosine:
            return None
        return (
            f"cosine {self.cosine:.3f} under {min_cosine}, but {self.sampled}: a chip that "
            "loses, adds or reorders one spike keeps other neurons' spikes there, so its count "
            "map cannot tell a right chip from one that misaddresses them"
        )


#: What a reset-mode verdict compares, on the shallowest monitored layer: its total spike
#: count first, its count map (per neuron) where the totals are too close to tell.
BY_COUNT = "count"
BY_MAP = "map"
EVIDENCE = {
    BY_COUNT: "first-layer count error",
    BY_MAP: "first-layer count-map distance",
}


@dataclass(frozen=True)
class ResetModeVerdict:
    """Which reference the chip's output resembles: ``distance`` per reset mode is, for the
    shallowest monitored layer, the relative error of its total spike count (``evidence``
    "count") or the relative distance of its per-neuron count map ("map"). ``expected`` is
    how the network was made (its sinabs neurons' reset), or what the caller said; None when
    unknown."""

    deployed: str
    expected: str | None
    distance: dict[str, float]
    reference: str = ""  # what the references were, as the measurement says it
    separation: float | None = None  # the same distance between the two references
    evidence: str = BY_COUNT
    map_cannot_tell: str = ""  # why the count map could not tell either, when it was tried

    @property
    def behaves_like(self) -> str:
        return min(self.distance, key=self.distance.get)

    @property
    def cannot_tell(self) -> str | None:
        """Why this recording cannot show how the chip resets; None when it can."""
        reason = self._own_cannot_tell()
        if reason and self.map_cannot_tell:
            return f"{reason}; by the count map: {self.map_cannot_tell}"
        return reason

    def _own_cannot_tell(self) -> str | None:
        what = EVIDENCE[self.evidence]
        if self.separation is not None and self.separation < MIN_REFERENCE_SEPARATION:
            return (
                f"the two references differ by only {self.separation:.3f} ({what}, at least "
                f"{MIN_REFERENCE_SEPARATION} needed): this recording does not show how a "
                "chip resets"
            )
        if self.separation is not None and min(self.distance.values()) > self.separation:
            return (
                f"the chip is farther from both references ({what}: {self.distance_text()}) "
                f"than they are from each other ({self.separation:.3f}): its noise hides "
                "its reset"
            )
        if self.separation is not None and self.margin < MIN_MARGIN_SHARE * self.separation:
            return (
                f"the chip is about as far from both references ({what}: "
                f"{self.distance_text()}; they differ by {self.separation:.3f} from each other)"
            )
        return None

    def distance_text(self) -> str:
        return ", ".join(f"{mode} {value:.3f}" for mode, value in self.distance.items())

    @property
    def margin(self) -> float:
        """How much closer the chip is to the mode it behaves like than to the other."""
        values = sorted(self.distance.values())
        return values[-1] - values[0]


def agreement(
    run: Run,
    reference: Run,
    bin_us: int = DEFAULT_BIN_US,
    class_window_us: int | None = None,
) -> list[LayerAgreement]:
    """Per monitored layer, how ``run`` agrees with ``reference`` (the same inputs)."""
    mapping = run.deployment.mapping
    exits = exit_cores(run.deployment)
    start = int(run.inputs["t"][0]) if len(run.inputs) else 0
    end = max(_last(run), _last(reference)) + 1
    sampled = sampled_cores(run.deployment)
    results = []
    for core in mapping.monitored_cores:
        device = run.outputs[run.outputs["layer"] == core]
        ref = reference.outputs[reference.outputs["layer"] == core]
        n_bins = max(1, -(-(end - start) // bin_us))
        counts = count_maps(device, ref)
        results.append(
            LayerAgreement(
                layer=mapping.layer_of(core),
                core=core,
                device_spikes=len(device),
                reference_spikes=len(ref),
                cosine=_cosine(*counts),
                count_distance=_relative_distance(*counts),
                count_error=abs(len(device) - len(ref)) / max(len(ref), 1),
                rate_distance=_relative_distance(
                    *_occupied_bin_counts(device["t"], ref["t"], start, bin_us, n_bins)
                ),
                class_agreement=(
                    _class_agreement(device, ref, start, end, class_window_us or end - start)
                    if core in exits
                    else None
                ),
                sampled=sampled.get(core, ""),
                chance_cosine=_chance_cosine(counts[1], len(device), _neurons(mapping, core)),
            )
        )
    return results


def _neurons(mapping, core: int) -> int:
    shape = mapping.config.cnn_layers[core].dimensions.output_shape
    return int(shape.feature_count) * int(shape.size.x) * int(shape.size.y)


def _chance_cosine(reference_counts: np.ndarray, n: int, neurons: int) -> float:
    """The expected cosine of ``reference_counts`` (the neurons that fired; the core's others
    add zeros) with ``n`` spikes sent to neurons drawn uniformly from ``neurons``:
    E[c·d] = nS/M and E|d|² = n + n(n−1)/M."""
    total = reference_counts.sum()
    norm = np.linalg.norm(reference_counts) * np.sqrt(n + n * (n - 1) / max(neurons, 1))
    return float(n * total / max(neurons, 1) / norm) if norm else float("nan")


def sampled_cores(deployment: Deployment) -> dict[int, str]:
    """The cores whose spikes pass a decimator, or are caused by spikes that did, each with
    a line saying which decimator."""
    config, profile = deployment.mapping.config, deployment.device.profile
    sampled: dict[int, str] = {}
    for layer, core in sorted(deployment.mapping.layer2core.items()):
        settings = config.cnn_layers[core]
        if core not in sampled and getattr(settings, "output_decimator_enable", False):
            every = profile.decimator_interval(int(settings.output_decimator_interval))
            sampled[core] = f"layer {layer} on core {core} passes 1 spike in {every} (decimator)"
        if core in sampled:
            for destination in settings.destinations:
                if destination.enable and destination.layer not in sampled:
                    sampled[destination.layer] = f"{sampled[core]} upstream"
    return sampled


def exit_cores(deployment: Deployment) -> set[int]:
    """Cores whose output leaves the network: no enabled destination."""
    config = deployment.mapping.config
    return {
        core
        for core in deployment.mapping.layer2core.values()
        if not any(d.enable for d in config.cnn_layers[core].destinations)
    }


def silent_layers(run: Run) -> dict[int, str]:
    """The monitored cores that fired no spike in ``run``, each with a line saying so."""
    mapping = run.deployment.mapping
    fired = set(np.unique(run.outputs["layer"]).tolist())
    return {
        core: f"layer {mapping.layer_of(core)} on core {core} fired no spike"
        for core in mapping.monitored_cores
        if core not in fired
    }


def reset_mode_verdict(
    deployment: Deployment,
    recording: Recording | np.ndarray,
    expected: str | None = None,
    dt_us: int | str | None = None,
) -> tuple[ResetModeVerdict, Run, dict[str, Run]]:
    """Replay ``recording`` and compare the chip with references under both reset modes:
    event-driven (``dt_us`` None), or sinabs' forward in ``dt_us`` bins (``"auto"``: bins
    chosen from the input rate by ``resolving_dt_us``).

    Returns the verdict, the device run and the two references (so nothing is recomputed).
    """
    run = deployment.replay(recording)
    return judge_reset_mode(run, recording, expected, dt_us)


def judge_reset_mode(
    run: Run,
    recording: Recording | np.ndarray | None = None,
    expected: str | None = None,
    dt_us: int | str | None = None,
) -> tuple[ResetModeVerdict, Run, dict[str, Run]]:
    """``reset_mode_verdict`` on a replay already made (``recording``, what was replayed, is
    needed only for sinabs' references)."""
    deployment = run.deployment
    if dt_us is None:
        references = {mode: event_reference(deployment, run.inputs, mode) for mode in RESET_MODES}
        described = EVENT_DRIVEN
    else:
        if recording is None:
            raise ValueError("sinabs' references (dt_us given) need the recording replayed")
        dt_us = resolving_dt_us(run.inputs) if dt_us == "auto" else int(dt_us)
        references = {
            mode: deployment.reference(recording, dt_us=dt_us, reset=mode) for mode in RESET_MODES
        }
        described = f"sinabs in {dt_us} µs bins"
    by_evidence = {
        evidence: ResetModeVerdict(
            deployed=deployment.reset_mode,
            expected=expected or network_reset_mode(deployment),
            distance={mode: _first_layer(run, ref, evidence) for mode, ref in references.items()},
            reference=described,
            separation=_first_layer(references["zero"], references["subtract"], evidence),
            evidence=evidence,
        )
        for evidence in EVIDENCE
    }
    verdict = by_evidence[BY_COUNT]
    if verdict.cannot_tell:
        by_map = by_evidence[BY_MAP]
        verdict = (
            by_map
            if not by_map.cannot_tell
            else dataclasses.replace(verdict, map_cannot_tell=by_map.cannot_tell)
        )
    return verdict, run, references


def event_reference(deployment: Deployment, inputs: np.ndarray, reset: str | None = None) -> Run:
    """What the deployment's configuration does on the ideal chip (the emulator without time:
    every output at the time of its cause), with every core resetting as ``reset`` says (the
    deployment's own by default): a reference that resolves each input event, however dense
    the input, for ``agreement`` and the reset-mode verdict. ``inputs`` are chip events."""
    reset = reset or deployment.reset_mode
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}; got {reset!r}")
    profile = deployment.device.profile
    program = program_from_config(deployment.mapping.config, profile)
    program.cores = [
        dataclasses.replace(core, return_to_zero=reset == "zero") if core.used else core
        for core in program.cores
    ]
    outputs = ideal_chip(program, profile).run(inputs)
    return Run(inputs, outputs, deployment, 0.0, 0.0, reset_mode=reset)


def resolving_dt_us(inputs: np.ndarray, ceiling_us: int = 1000) -> int:
    """A bin width (µs) short enough that the busiest millisecond of ``inputs`` puts at most
    one event in a bin on average, so that few neurons get two inputs (and can cross
    threshold twice) within one bin; at most ``ceiling_us``."""
    if len(inputs) < 2:
        return ceiling_us
    per_ms = np.bincount(((inputs["t"] - inputs["t"][0]) // 1000).astype(np.int64))
    return int(np.clip(1000 // max(int(per_ms.max()), 1), 1, ceiling_us))


def _first_layer(run: Run, reference: Run, evidence: str) -> float:
    """How far ``run`` is from ``reference`` on the shallowest monitored layer: the relative
    error of its total spike count, or (``BY_MAP``) the relative distance of its count map.

    How a neuron resets changes how often it fires, and on the first layer the chip's noise
    has had the least chance to change what fires. Downstream, misaddressed spikes fire
    other neurons: on the noisy chip deep layers (whose counts the noise lowers, as a reset
    to zero does) once made a chip that subtracts look like one that resets to zero. The
    map holds more of the evidence than the total (neurons that fire more under one reset
    and less under the other cancel in it), so it is asked where the totals are too close;
    misaddressed spikes blur it, which the verdict's rules turn into "cannot tell"."""
    layers = agreement(run, reference)
    if not layers:
        return 0.0
    first = min(layers, key=lambda layer: layer.layer)
    return first.count_distance if evidence == BY_MAP else first.count_error


def network_reset_mode(deployment: Deployment) -> str | None:
    """How the network's neurons were made to reset, when all its sinabs layers agree."""
    modes = {reset_mode_of(layer) for layer in deployment.mapping.cnn_layers().values()}
    return modes.pop() if len(modes) == 1 else None


def count_maps(device: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spike counts per neuron, over the neurons that fired in either run, aligned."""
    keys, index = np.unique(
        np.concatenate([neuron_keys(device), neuron_keys(reference)]), return_inverse=True
    )
    return (
        np.bincount(index[: len(device)], minlength=len(keys)).astype(np.float64),
        np.bincount(index[len(device) :], minlength=len(keys)).astype(np.float64),
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    if not a.any() and not b.any():
        return float("nan")  # two silent layers: no pattern to compare
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm else 0.0


def _relative_distance(device: np.ndarray, reference: np.ndarray) -> float:
    scale = np.linalg.norm(reference)
    difference = np.linalg.norm(device.astype(np.float64) - reference)
    if scale == 0:
        return 0.0 if difference == 0 else float("inf")
    return float(difference / scale)


def _occupied_bin_counts(
    device_t: np.ndarray, reference_t: np.ndarray, start: int, bin_us: int, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Events per ``bin_us`` bin of each run, over the bins either run has events in.

    Bins empty in both add nothing to a distance or a norm, so leaving them out changes no
    figure; an array over every bin of the span would grow with the run's silences (a
    10-hour gap is 3.6 million 10 ms bins) instead of with its events.
    """
    bins = [(np.asarray(t, dtype=np.int64) - start) // bin_us for t in (device_t, reference_t)]
    bins = [b[(b >= 0) & (b < n_bins)] for b in bins]
    _, index = np.unique(np.concatenate(bins), return_inverse=True)
    n_occupied = int(index.max(initial=-1)) + 1
    return (
        np.bincount(index[: len(bins[0])], minlength=n_occupied),
        np.bincount(index[len(bins[0]) :], minlength=n_occupied),
    )


def _class_agreement(
    device: np.ndarray, reference: np.ndarray, start: int, end: int, window_us: int
) -> float:
    """The fraction of windows, among those where either run spiked, whose most active
    channel is the same; windows are counted only where there are spikes (see
    ``_occupied_bin_counts``)."""
    n_windows = max(1, -(-(end - start) // window_us))
    n_classes = int(max(device["feature"].max(initial=0), reference["feature"].max(initial=0))) + 1
    windows = [
        np.minimum((spikes["t"].astype(np.int64) - start) // window_us, n_windows - 1)
        for spikes in (device, reference)
    ]
    _, index = np.unique(np.concatenate(windows), return_inverse=True)
    n_active = int(index.max(initial=-1)) + 1
    if n_active == 0:
        return float("nan")  # no window where either predicted a class
    votes = [
        _votes(spikes["feature"], window, n_active, n_classes)
        for spikes, window in zip(
            (device, reference), (index[: len(device)], index[len(device) :]), strict=True
        )
    ]
    same = votes[0].argmax(axis=1) == votes[1].argmax(axis=1)
    return float(same.mean())


def _votes(features: np.ndarray, window: np.ndarray, n_windows: int, n_classes: int) -> np.ndarray:
    flat = window.astype(np.int64) * n_classes + features.astype(np.int64)
    return np.bincount(flat, minlength=n_windows * n_classes).reshape(n_windows, n_classes)


def _last(run: Run) -> int:
    times = [int(run.inputs["t"][-1])] if len(run.inputs) else [0]
    if len(run.outputs):
        times.append(int(run.outputs["t"].max()))
    return max(times)
