"""MNIST Draw: a CNN trained on MNIST that recognises digits drawn in the browser."""

import os

# Set before TensorFlow is imported anywhere: oneDNN kernels make CPU training ~25% faster
# here, and TensorFlow's start-up chatter is noise in a CLI and a web app.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
