import sys

from rnnshape.cli import main

sys.exit(main())
