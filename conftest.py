"""Repository-level pytest configuration. The harness itself loads through its entry point."""

pytest_plugins = ["pytester"]
