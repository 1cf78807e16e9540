"""The command line: python -m mnist_cnn (main.py)."""
