# The two commands a newcomer needs:
#   make serve   set up and run the platform on embedded defaults (GraphiQL on :4000)
#   make test    set up and run the test suite
.PHONY: serve test lint setup setup-dev

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

serve: setup
	.venv/bin/media-gateway serve

test: setup-dev
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
