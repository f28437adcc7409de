"""``python -m lpm ...``: the ``lpm`` command line (:mod:`lpm.cli`)."""

import sys

from lpm.cli import main

sys.exit(main())
