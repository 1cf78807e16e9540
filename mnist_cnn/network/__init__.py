"""The trained network: .keras files, the NumPy forward and backward passes, inference."""
