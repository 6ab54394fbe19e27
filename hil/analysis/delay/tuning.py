"""The delay estimate's tunables (the package's docstring says what each step does with them)."""

WINDOW_SPIKES = 128
MAX_WINDOWS = 2000
SAMPLE_PER_WINDOW = 32
MAX_CANDIDATES = 128
BIN_FLOOR_US = 1000.0
BIN_REL = 0.02
EARLY_US = 200  # a jittered output may leave before its ideal twin's time
MIN_SCORE = 8.0
MIN_SUPPORT = 0.1
COUNT_TOLERANCE_REL = 0.05  # the counts' delay is as good as a few % in a backlog
COUNT_POOL = 4
MIN_COUNT_SCORE = 5.0  # one delay tested per window, not the best of many: less is chance
MIN_COUNT_SUPPORT = 0.05
COUNT_BOUND_FACTOR = 2.0  # pairing's delay is chance when it exceeds the counts' by this
COUNT_BOUND_US = 10_000.0  # factor and this much (a chance pile-up in a dense drain)
MIN_GAIN_OVER_ZERO = 0.3  # of a window's spikes: more partners at its delay than at none
MIN_COUNT_GAIN_OVER_ZERO = 0.1  # the same for the counts' delays, which pairing confirmed
MIN_CONFIRMED_RUN = 8  # windows in a row: a queue's delay is shared by neighbours
SMOOTH_WINDOWS = 5
TOLERANCE_US = 500.0
TOLERANCE_REL = 0.25
SMALL_US = 2 * TOLERANCE_US  # a delay that cannot be told from none
MIN_MATCHED_PER_WINDOW = 16
REFINEMENTS = 2  # pairings against the curve the previous pairing's window medians draw
