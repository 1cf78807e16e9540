"""Data: MNIST, and made-up drawings, handwriting and non-digits."""
