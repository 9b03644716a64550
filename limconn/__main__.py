"""`python -m limconn ...`: the command line; see `limconn.cli`."""

import os
import sys

# Quiets TensorFlow's C++ logging, if TensorFlow is not imported yet. (`limconn/__init__.py`
# imports Keras, and Python imports the package before running this file, so for now this
# comes too late: TensorFlow reads the variable once, when it is first imported.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from limconn.cli import main  # noqa: E402

sys.exit(main())
