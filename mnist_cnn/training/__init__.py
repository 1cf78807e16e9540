"""Training and fitting: architectures, train, fine-tune, evaluate, the run and its worker."""
