"""`python -m training.detection ...`: one training run (see the package)."""

import sys

from training.detection.runner import main

if __name__ == "__main__":
    sys.exit(main())
