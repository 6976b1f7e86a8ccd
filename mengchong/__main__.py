"""``python -m mengchong``."""

import sys

from mengchong.cli import main

sys.exit(main())
