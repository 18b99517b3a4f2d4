# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates .venv with pip if it is missing and installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned to the CPU wheel; where a local wheel folder exists pip takes it from there
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install lint

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(FIND_LINKS) -e '.[dev,bench,nlp,distributed,forecast]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/shopml demo

# the dashboard's browser tests drive Debian's chromium; they skip (saying so) where it is missing
test: $(STAMP)
	command -v chromium >/dev/null || { S=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$S apt-get update -q && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -q chromium; } \
	  || echo "note: could not install chromium: the browser tests will be skipped"
	$(VENV)/bin/pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
