# Entry points for a new user; each installs what it needs first.
.PHONY: setup up test bench

setup:
	scripts/setup.sh

up:
	scripts/setup.sh
	.venv/bin/infra up --stack local

test:
	scripts/test.sh

bench:
	GROUNDWORK_BENCH_TOOLS=1 scripts/setup.sh
	.venv/bin/python -m bench.dataplane
	.venv/bin/python -m bench.cache
	.venv/bin/python -m bench.cost
	.venv/bin/python -m bench.loadgen
