# Thin targets; the work is in the ocirelay package, tests/ and tools/.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint unit bench clean

$(STAMP): pyproject.toml
	tools/install-host-packages.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(STAMP)

demo: setup
	tools/demo.sh

lint: setup
	$(VENV)/bin/ruff check ocirelay tools tests
	$(VENV)/bin/yamllint -s $$(ls -d examples inventories playbooks roles molecule 2>/dev/null)

unit: setup
	$(VENV)/bin/pytest -q tests/unit

test: setup lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) out
