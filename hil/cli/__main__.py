"""``python -m hil.cli``: the ``speck-hil`` command."""

import sys

from hil.cli import main

sys.exit(main())
