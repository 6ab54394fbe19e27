"""Output delay: how long after its cause each output left the chip.

A chip does not say which input caused an output. The estimate that works on a real chip as
well as on the emulator: replay the same inputs through an ideal, zero-latency chip (the
emulator with ``timing=False``), whose every spike carries the time of its cause, and pair
each ideal spike with the same neuron's spike on the device; the difference of their times is
that output's delay.

A real chip loses spikes, adds some and jitters their times, so the pairing cannot count
spikes (pairing each neuron's k-th spikes reads every spike after a lost one as delayed by
the neuron's inter-spike interval). It rests on what a stall is instead: a delay that every
output caused at about the same time shares, because one queue delays them all, in order.
The ideal spikes, in time order (the cause's time), are cut into windows of
``WINDOW_SPIKES``.

1. **Delay by counts.** A queue keeps its outputs in order, so the delay of the outputs
   caused at t is how much later the device's cumulative output count of a core reaches the
   fraction of its total that the ideal chip's reaches at t (counts normalised, so a loss
   that is uniform cancels). Misaddressed spikes cannot touch it; losses that are not
   uniform move it by milliseconds, so it is believed only where pairing confirms it: more
   of a window's ideal spikes (pooled with ``COUNT_POOL`` neighbours on each side) find a
   device spike of their neuron within ``COUNT_TOLERANCE_REL`` of the counts' delay than
   chance gives (the same band's hits on either side of it, or at no delay at all, whichever
   is more), by ``MIN_COUNT_SCORE`` standard deviations and ``MIN_COUNT_SUPPORT`` of them.
2. **Delay by pairing**, for the windows the counts could not confirm. For a sample of each
   window, every device spike of the same neuron from ``EARLY_US`` before to ``max_lag_us``
   after (the ``MAX_CANDIDATES`` nearest) is a candidate partner, and the candidate delays
   are histogrammed on bins ``BIN_REL`` of the delay wide (``BIN_REL·BIN_FLOOR_US`` near
   zero), pooled with the neighbouring windows'. Wrong partners spread evenly over the delays
   each anchor can reach; true ones pile up at the window's delay. The window's delay is the
   bin that stands out most from that chance level, kept when it does so by ``MIN_SCORE``
   standard deviations and holds an excess of ``MIN_SUPPORT`` of the sampled spikes, is near
   the running median over ``SMOOTH_WINDOWS`` such windows (chance does not repeat itself
   from window to window), and is not beyond what the counts allow
   (``COUNT_BOUND_FACTOR`` times their delay plus ``COUNT_BOUND_US``: a chance pile-up of
   partners in a backlog's dense drain). A window without either takes its delay from its
   neighbours' for pairing; the per-window delays reported come only from windows with one.
3. **Better than no delay.** Whichever way a window's delay was found, it is believed only
   when more of its ideal spikes (pooled as in 1.) find a device spike of their neuron near
   that delay than at no delay at all: by ``MIN_GAIN_OVER_ZERO`` of them for pairing's
   delays beyond ``TOLERANCE_US``; for the counts' beyond ``2·TOLERANCE_US`` (which pairing
   already confirmed) by ``MIN_COUNT_GAIN_OVER_ZERO``, in ``MIN_CONFIRMED_RUN`` windows in a
   row. Where a neuron fires more often than the bands are wide (a dense network, many
   outputs per input), every band finds a spike and no delay can be shown: chance pile-ups
   there once read 2.5 ms on a chip done 4 µs after its last input; and a chip whose noise
   compounds over six layers gave the ideal chip's neurons partners at its (wrong) count
   delay a fifth more often than at zero. Such windows are left unresolved, and a stall
   verdict reads them as "cannot tell".
4. **Pairs.** Each ideal spike is paired with its neuron's device spike nearest that curve,
   kept when within ``TOLERANCE_US`` or ``TOLERANCE_REL`` of the curve's delay (a device spike
   goes to one ideal spike at most). The windows' median delays then draw a finer curve, and
   the pairing is repeated ``REFINEMENTS`` times. Device spikes left without a partner (a
   spurious spike) and ideal ones (a lost spike, or one whose cause was lost) are counted.

The per-window median delay (``window_delay_us``, against the window's median cause time) is
what a stall verdict reads; the paired outputs give the distribution.

A run's outputs are matched core by core (``output_delays``): a queue delays one core's
outputs, and a window of every core's spikes has the median of the busiest cores, so an
overloaded core whose outputs are a few percent of the run's was once read as 4 µs of delay
while its outputs drained 1.6 s after the last input.
"""

from hil.analysis.delay.match import (
    OutputDelays,
    ideal_chip,
    match_outputs,
    match_per_core,
    output_delays,
    zero_latency_outputs,
)

__all__ = [
    "OutputDelays",
    "ideal_chip",
    "match_outputs",
    "match_per_core",
    "output_delays",
    "zero_latency_outputs",
]
