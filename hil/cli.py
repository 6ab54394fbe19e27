"""The ``speck-hil`` command line."""


def main() -> int:
    return 0
