# Everything a fresh machine needs comes from here: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: venv demo test lint typecheck unit bench bench-env bench-env-redis bench-large bench-online bench-online-redis bench-serve bench-drift bench-drift-env bench-skew bench-experiment bench-gbstats bench-registry bench-prediction-log bench-on-demand bench-spark bench-env-spark feast-check browser bench-ui clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The main job on the worked example: data, apply, training set, models, deployment,
# materialization and predictions; then what the registry now holds.
demo: venv
	cd feature_repo && ../$(BIN)/python main_job.py
	$(BIN)/silage --repo feature_repo plan
	$(BIN)/silage --repo feature_repo list feature-views
	$(BIN)/silage --repo feature_repo deployments
	@echo
	@echo "Browse it in the web UI: run"
	@echo "    $(BIN)/silage --repo feature_repo serve"
	@echo "and open http://127.0.0.1:6566/ui/"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m "not feast"

# The cross-check against Feast 0.67 itself (tests marked `feast`) runs in a venv of its own:
# Feast pins pandas < 3. Silage is installed there too, editable, with the `feast` extra.
FEAST_CHECK_VENV := .venv-feast-check
FEAST_CHECK_STAMP := $(FEAST_CHECK_VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

$(FEAST_CHECK_STAMP): pyproject.toml
	$(PYTHON) -m venv $(FEAST_CHECK_VENV)
	$(FEAST_CHECK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FEAST_CHECK_VENV)/bin/python -m pip install --quiet -e '.[dev,feast]'
	rm -f $(FEAST_CHECK_VENV)/.installed-*
	touch $@

feast-check: $(FEAST_CHECK_STAMP)
	$(FEAST_CHECK_VENV)/bin/pytest -q -m feast tests/feast

# The browser the UI's tests drive: Debian's Chromium, installed when missing (as root, or
# through sudo). Playwright comes with the dev extra and is pointed at it; nothing is downloaded
# by Playwright itself.
browser: venv
	@test -x /usr/bin/chromium || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The README's test command: style, types and every test (browser tier and the Feast
# cross-check included).
test: lint typecheck browser unit feast-check

# Benchmarks (not part of `make test`): Feast runs from its own virtualenv.
# BASELINE=DIR adds another checkout of Silage, with its own .venv, side by side:
#   git worktree add ../silage-before main~3 && make -C ../silage-before venv
#   make bench-online BASELINE=../silage-before
FEAST_VENV := benchmarks/.venv-feast
SIDE_BY_SIDE := $(if $(BASELINE),--baseline $(BASELINE) --rounds 3)

bench-env: $(FEAST_VENV)/bin/feast

$(FEAST_VENV)/bin/feast:
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FEAST_VENV)/bin/python -m pip install --quiet "feast[duckdb]==0.67.0"

# Point-in-time join: 10M feature rows, 1M entity rows; Silage, Feast, hand-written DuckDB.
bench: venv bench-env
	$(BIN)/python benchmarks/pit_benchmark.py $(if $(BASELINE),--baseline $(BASELINE))

# The join on Spark beside Feast 0.67's Spark offline store (local[1] and local[2], uniform and
# one hot key); smaller runs: make bench-spark SPARK_BENCH="--feature-rows 1000000 --entities 100000"
bench-env-spark: bench-env
	$(FEAST_VENV)/bin/python -m pip install --quiet "feast[duckdb,spark]==0.67.0"

bench-spark: venv bench-env-spark
	$(BIN)/python benchmarks/spark_benchmark.py $(SPARK_BENCH)

# Online store: materialization throughput and lookup latency, Silage against Feast.
bench-online: venv bench-env
	$(BIN)/python benchmarks/online_benchmark.py $(SIDE_BY_SIDE)

# The same on Redis (127.0.0.1:6379, databases 12 and 13, emptied by the benchmark), beside
# Feast's Redis online store: make bench-online-redis REDIS=host:port ENTITIES=1000000
REDIS ?= 127.0.0.1:6379
ENTITIES ?= 1000000

bench-env-redis: bench-env
	$(FEAST_VENV)/bin/python -m pip install --quiet "feast[duckdb,redis]==0.67.0"

bench-online-redis: venv bench-env-redis
	$(BIN)/python benchmarks/online_benchmark.py --online redis --redis $(REDIS) \
		--entities $(ENTITIES) $(SIDE_BY_SIDE)

# A bounded load test of `silage serve` on localhost (p50 and p99 at a fixed rate).
bench-serve: venv
	$(BIN)/python benchmarks/serve_benchmark.py $(SIDE_BY_SIDE)

# The same join at 100M feature rows (Silage and hand-written DuckDB only).
bench-large: venv
	$(BIN)/python benchmarks/pit_benchmark.py --engines silage,duckdb --runs 1 \
		--feature-rows 100000000 --variants ttl_1d,no_ttl

# Drift: 1M current rows x 20 features against a 1M-row reference; Silage (stored profiles
# and raw samples), a plain SciPy loop, and Evidently's data-drift preset from its own venv.
EVIDENTLY_VENV := benchmarks/.venv-evidently

bench-drift-env: $(EVIDENTLY_VENV)/bin/evidently

$(EVIDENTLY_VENV)/bin/evidently:
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet "evidently==0.7.23" "pandas<3"

bench-drift: venv bench-drift-env
	$(BIN)/python benchmarks/drift_benchmark.py

# Training-serving skew over 1M logged predictions, beside a hand-written DuckDB ASOF join.
# get_online_features with one on-demand view (pandas and python mode), beside Feast 0.67.
bench-on-demand: venv bench-env
	$(BIN)/python benchmarks/on_demand_benchmark.py

bench-skew: venv
	$(BIN)/python benchmarks/skew_benchmark.py

# An experiment report over 10M logged predictions, and what a bandit adds to routing.
bench-experiment: venv
	$(BIN)/python benchmarks/experiment_benchmark.py

# Experiment statistics side by side with GrowthBook's gbstats (its own venv: pandas < 2).
GBSTATS_VENV := benchmarks/.venv-gbstats

$(GBSTATS_VENV)/bin/python:
	$(PYTHON) -m venv $(GBSTATS_VENV)
	$(GBSTATS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GBSTATS_VENV)/bin/python -m pip install --quiet "gbstats==0.8.0"

bench-gbstats: venv $(GBSTATS_VENV)/bin/python
	$(BIN)/python benchmarks/gbstats_comparison.py

# The registry on PostgreSQL beside SQLite: register_model and get_historical_features'
# lookups (needs PostgreSQL at 127.0.0.1:5432, or POSTGRES=URL of a server).
bench-registry: venv
	$(BIN)/python benchmarks/registry_benchmark.py $(if $(POSTGRES),--postgres $(POSTGRES))

# The predictions log with 1 and 4 serving processes appending: SQLite beside PostgreSQL
# (needs PostgreSQL at 127.0.0.1:5432, or POSTGRES=URL of a server).
bench-prediction-log: venv
	$(BIN)/python benchmarks/prediction_log_benchmark.py $(if $(POSTGRES),--postgres $(POSTGRES))

# The web UI on a generated registry (1,000 models x 20 versions, 500 views x 5 versions,
# 200 training sets x 50 features, 100,000 predictions), on SQLite and PostgreSQL.
bench-ui: venv
	$(BIN)/python benchmarks/ui_benchmark.py --postgres $(if $(POSTGRES),$(POSTGRES))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache feature_repo/data
