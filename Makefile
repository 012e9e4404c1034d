# randflow: the two commands for a fresh machine are `make report` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRESET ?= quick
WORKERS ?=
ROUNDS ?=

.PHONY: all env test test-slow report bench lab readme data lock check-env clean-check help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/\t/'

$(STAMP): settings.ini setup.py requirements-lock.txt scripts/install_env.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python scripts/install_env.py $(VENV)
	$(BIN)/python -c "import randflow, torch, nbdev, papermill"
	$(BIN)/python -m ipykernel install --sys-prefix --name randflow --display-name "Python (randflow)" >/dev/null
	$(BIN)/nbdev_install_hooks >/dev/null 2>&1 || true
	touch $(STAMP)

env: $(STAMP)  ## create .venv, install randflow with the locked dev environment, register the kernel

check-env: $(STAMP)  ## settings.ini, environment.yml and the lock agree
	$(BIN)/python scripts/check_env.py

clean-check: $(STAMP)  ## notebooks are clean and randflow/ is in sync with them
	$(BIN)/python scripts/check_clean.py

test: $(STAMP)  ## check env, cleanliness and export sync, run every notebook's tests; ends with "N passed, M failed"
	$(BIN)/python scripts/check_env.py
	$(BIN)/python scripts/check_clean.py
	$(BIN)/python scripts/run_tests.py

test-slow: $(STAMP)  ## also run the cells flagged slow
	$(BIN)/python scripts/run_tests.py --flags slow

report: $(STAMP)  ## run the experiment sweep PRESET (default quick) into reports/ and regenerate reports/README.md
	$(BIN)/python scripts/ensure_data.py $(PRESET)
	$(BIN)/randflow sweep $(PRESET) --kernel randflow $(if $(WORKERS),--workers $(WORKERS))

bench: $(STAMP)  ## time randflow against the peer libraries (own venv in benchmarks/); writes reports/benchmarks.md (ROUNDS=n: rounds, default 3)
	$(PY) benchmarks/driver.py all $(if $(ROUNDS),--rounds $(ROUNDS))

data: $(STAMP)  ## fetch MNIST offline (and Fashion-MNIST where the Debian package is installed)
	$(BIN)/randflow data fetch mnist
	if [ -d /usr/share/datasets/fashion-mnist ]; then $(BIN)/randflow data fetch fashion-mnist; fi

lab: $(STAMP)  ## JupyterLab on the project kernel
	$(BIN)/jupyter lab --notebook-dir=nbs

readme: $(STAMP)  ## README.md from nbs/index.ipynb, without quarto
	$(BIN)/python scripts/readme_noquarto.py

lock:  ## re-resolve the environment from settings.ini into requirements-lock.txt (fresh venv)
	V=$$(mktemp -d)/v && $(PY) -m venv $$V && $$V/bin/pip install -q -U pip && $$V/bin/pip install -q -e ".[dev]" && $$V/bin/pip freeze --exclude-editable | grep -v '^randflow' > requirements-lock.txt
