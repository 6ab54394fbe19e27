"""speck-hil: hardware-in-the-loop tests for SynSense Speck devkits."""

__version__ = "0.1.0"
