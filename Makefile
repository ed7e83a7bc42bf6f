# Thin targets; the work is in the ocirelay package, tests/ and tools/.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint unit lab-test molecule images lab-up lab-status lab-down bench clean

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
	$(VENV)/bin/ruff check ocirelay tools tests molecule benchmarks
	$(VENV)/bin/yamllint -s $$(ls -d examples inventories playbooks roles molecule 2>/dev/null)

unit: setup
	$(VENV)/bin/pytest -q tests/unit

# The lab: an OCI-shaped instance and an OCI Email Delivery emulator (tests/lab/README.md).
LABCTL := $(PY) tests/lab/labctl.py
images: setup
	$(LABCTL) build
lab-up: setup
	$(LABCTL) up
lab-status: setup
	$(LABCTL) status
lab-down: setup
	$(LABCTL) down

lab-test: setup
	$(VENV)/bin/pytest -q tests/lab/test_lab.py

# molecule looks for ansible-config on PATH.
SCENARIOS ?= lab-smoke default debian13 hestia
molecule: setup
	for s in $(SCENARIOS); do PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s $$s || exit 1; done

# Benchmarks print numbers (README, "Pacing"); not part of test: a paced burst takes minutes.
bench: setup
	$(PY) benchmarks/pacing.py --per-minute 10 --messages 15

# Everything: unit and emulator tests, the lab, linters, and every molecule scenario.
test: setup
	$(VENV)/bin/pytest -q -rfE --durations=15

clean:
	rm -rf $(VENV) out
