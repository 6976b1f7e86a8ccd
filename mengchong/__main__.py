"""``python -m mengchong``."""

import sys

from mengchong.launch import main

sys.exit(main())
