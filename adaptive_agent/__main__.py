"""``python -m adaptive_agent`` is the same as the ``adaptive-agent`` command."""

import sys

from .cli import main

sys.exit(main())
