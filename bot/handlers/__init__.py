"""One module per capability; each has `setup(registry)`."""
