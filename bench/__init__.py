"""Benchmarks of the payment service: ``python -m bench.run``."""
