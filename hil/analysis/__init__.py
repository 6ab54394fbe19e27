"""Judging a run: delays and stalls, agreement with simulation, SynOps per core."""
