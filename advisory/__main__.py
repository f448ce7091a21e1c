import sys

from advisory.cli import main

sys.exit(main())
