import sys

from commodity_platform.sandbox.cli import main

sys.exit(main())
