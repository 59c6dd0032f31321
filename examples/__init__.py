"""Example applications built on civickit (run them with `make demo`)."""
