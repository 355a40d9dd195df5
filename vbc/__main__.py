import sys

from vbc.cli import main

sys.exit(main())
