"""`python -m slipway.cli`: the same entry point as the `slipway` script."""

import sys

from slipway.cli import main

sys.exit(main())
