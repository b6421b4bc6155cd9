# gitops-promoter — the two commands: `make test` and `make demo`.
SHELL := /bin/bash
# The venv's interpreter: Debian's python3 when it can make a venv (a PGO/LTO build, as the service
# image's python:3.11-slim is; pyenv's default build runs the product ~20 % slower), else python3.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, sys; assert sys.version_info >= (3, 11)' 2>/dev/null \
            && echo /usr/bin/python3 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
DEBS := git:git docker-registry:docker-registry prometheus:prometheus pg_ctlcluster:postgresql chromium:chromium kubectl:kubernetes-client

.PHONY: test demo bench lint debs venv clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

debs:
	@scripts/ensure-debs.sh $(DEBS)

test: venv debs lint
	$(PY) -m pytest -q

# make demo KEEP=1 (or ARGS=--keep): leave the service and its stand-ins running until Ctrl-C
demo: venv debs
	$(PY) -m demo.run $(if $(filter-out 0 no false,$(KEEP)),--keep) $(ARGS)

bench: venv debs
	$(PY) -m bench.run

lint: venv
	$(PY) -m ruff check gitops_promoter tests bench demo
	$(PY) -m mypy gitops_promoter  # strict, as pyproject.toml says: ports and adapters cannot drift apart

clean:
	rm -rf $(VENV) .pytest_cache
