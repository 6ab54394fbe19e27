"""Measuring a chip: each core's SynOps/s budget, the latency and the power, into a profile."""
