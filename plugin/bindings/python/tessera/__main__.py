"""``python3 -m tessera sample ...``: see :mod:`tessera.cli`."""

import sys

from .cli import main

sys.exit(main())
