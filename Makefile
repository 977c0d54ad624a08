# Benchmarks: see docs/benchmarks.md.
PYTHON ?= python

.PHONY: bench bench-quick

# The whole suite (under 10 minutes): table on stdout, JSON and the docs' Markdown tables in
# bench/results/, plots in docs/img/.
bench:
	$(PYTHON) -m bench.run --out bench/results/latest.json
	$(PYTHON) -m bench.plots bench/results/latest.json
	$(PYTHON) -m bench.report bench/results/latest.json > bench/results/latest.md

# A smoke run with tiny counts (seconds); figures are meaningless.
bench-quick:
	$(PYTHON) -m bench.run --quick --out bench/results/quick.json
