"""``python -m gypsum_flows``: the ``gypsum-flows`` command, for environments without its script on PATH."""

import sys

from .cli import main

sys.exit(main())
