# DataVisor developer entry points. `make run` and `make test` are the two README commands;
# both build .venv from uv.lock first, with a CPU-only torch. Each target calls a script in scripts/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
UV_VERSION  := 0.13.8
VENV        := .venv
TOOLS       := $(CURDIR)/.tools
BUILD       := build
# uv on PATH wins; otherwise a pinned uv is bootstrapped into .tools (needs python3-venv).
UV          ?= $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV

# torch is always the CPU build, hash-checked (pyproject.toml [tool.datavisor.torch-cpu]). It comes from the
# PyTorch CPU index, or from TORCH_WHEELS=DIR (offline hosts); /opt/wheels is used when it holds a +cpu wheel.
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu
TORCH_WHEELS  ?= $(if $(wildcard /opt/wheels/torch-*+cpu-*.whl),/opt/wheels,)
TORCH_SOURCE  := $(if $(TORCH_WHEELS),--torch-wheels $(TORCH_WHEELS),--torch-index $(TORCH_INDEX))
export TORCH_INDEX TORCH_WHEELS
# The browser app, once frontend/ exists: the image and the wheel carry what `make ui` builds into app/webui/.
UI            := $(if $(wildcard frontend/package.json),ui,)

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	scripts/bootstrap-uv.sh $(PYTHON) $(TOOLS) $(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml scripts/install.sh scripts/install-torch.sh scripts/lockinfo.py | $(UV)
	scripts/install.sh --venv $(VENV) --python $(PYTHON) --dev $(TORCH_SOURCE)
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## build .venv from uv.lock (dev groups) with CPU-only torch; nothing to do when unchanged

.PHONY: run
run: venv ## serve the API and the app on the embedded default (./data/datavisor.duckdb, 127.0.0.1:8000)
	scripts/build-ui.sh --if-stale
	$(VENV)/bin/datavisor serve

.PHONY: ui
ui: ## build the browser app (frontend/ -> app/webui, npm ci from package-lock.json)
	scripts/build-ui.sh

.PHONY: ui-node18
ui-node18: molecule-image ## build the app with Debian 12's nodejs 18 + npm 9 inside $(MOLECULE_IMAGE) (npm ci && npm run build)
	scripts/ui-node18.sh $(MOLECULE_IMAGE)

.PHONY: ui-dev
ui-dev: ## the app's dev server on http://localhost:3000 against `make run` on :8000
	scripts/ui-dev.sh

.PHONY: test
test: venv ## run the test suite (real uvicorn, real DuckDB)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff
	$(VENV)/bin/ruff check app plugins tests bench scripts ansible

.PHONY: lock
lock: | $(UV) ## re-resolve uv.lock after editing pyproject.toml
	$(UV) lock

.PHONY: clean
clean: ## remove .venv, build output and caches (keeps ./data)
	rm -rf $(VENV) $(TOOLS) $(BUILD) .pytest_cache .ruff_cache

.PHONY: bench-stop
bench-stop: venv ## print SIGTERM-to-exit seconds: idle, and with ~300 MB of WAL
	$(VENV)/bin/python bench/stop_time.py

# --- Deployment (ansible/): artifacts the role copies to hosts, and the Molecule scenarios ---------------
DIST            := dist
MOLECULE_IMAGE  ?= datavisor-molecule:bookworm
MOLECULE_TRIXIE_IMAGE ?= datavisor-molecule:trixie
export MOLECULE_IMAGE MOLECULE_TRIXIE_IMAGE

$(TOOLS)/bin/pip:
	$(PYTHON) -m venv $(TOOLS)

.PHONY: dist
dist: $(UI) | $(UV) ## the release for the Ansible role in dist/: wheel, plugins, locked requirements, install scripts
	scripts/dist.sh $(DIST)

.PHONY: wheelhouse
wheelhouse: dist | $(TOOLS)/bin/pip ## dist/ plus every runtime wheel (CPU torch included) in dist/wheelhouse.tar, for hosts without internet
	PIP=$(TOOLS)/bin/pip scripts/wheelhouse.sh $(DIST)

.PHONY: molecule-image
molecule-image: ## build the Molecule test image (Debian 12 + systemd) with debootstrap, unless it exists
	ansible/molecule/image/build.sh --if-missing $(MOLECULE_IMAGE) bookworm

.PHONY: molecule-image-trixie
molecule-image-trixie: ## the same for Debian 13 (trixie)
	ansible/molecule/image/build.sh --if-missing $(MOLECULE_TRIXIE_IMAGE) trixie

.PHONY: molecule
molecule: venv wheelhouse molecule-image ## deploy with the role onto systemd containers and verify (MOLECULE_SCENARIO=default)
	scripts/molecule.sh $(or $(MOLECULE_SCENARIO),default)

.PHONY: molecule-proxy
molecule-proxy: ## scenario proxy: Caddy with HTTPS and basic auth in front of the backend, curl from inside
	$(MAKE) molecule MOLECULE_SCENARIO=proxy

.PHONY: molecule-lifecycle
molecule-lifecycle: ## scenario lifecycle: backup/restore, upgrade, rolled-back upgrade with serial, metrics, proxy off, uninstall
	$(MAKE) molecule MOLECULE_SCENARIO=lifecycle

.PHONY: molecule-trixie
molecule-trixie: venv wheelhouse molecule-image-trixie ## scenario trixie: Debian 13, container runtime deployed, native cp311 wheelhouse refused
	scripts/molecule-container.sh $(TEST_IMAGE) trixie

.PHONY: ansible-lint
ansible-lint: venv ## ansible-lint (production profile) on the roles and playbooks
	cd ansible && PATH=$(CURDIR)/$(VENV)/bin:$$PATH ansible-lint

# --- Backend image (Dockerfile.backend) ----------------------------------------------------------------
PROJECT_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE           ?= datavisor-backend:$(PROJECT_VERSION)
TEST_IMAGE      ?= datavisor-backend:test

.PHONY: image
image: $(UI) ## build the backend image the production way (python:3.14-slim, uv from ghcr.io, PyPI + PyTorch CPU index)
	scripts/docker-build.sh -f Dockerfile.backend -t $(IMAGE) --build-arg TORCH_INDEX=$(TORCH_INDEX) \
		--build-arg VERSION=$(PROJECT_VERSION) .

.PHONY: image-test
image-test: $(UI) | $(UV) $(TOOLS)/bin/pip ## build the image offline (Debian stand-in bases, local packages) and prove health, stop, data
	UV_VERSION=$(UV_VERSION) PYTHON=$(TOOLS)/bin/python tests/deploy/image/build_offline.sh $(TEST_IMAGE)
	$(PYTHON) tests/deploy/image/check_image.py $(TEST_IMAGE)

.PHONY: molecule-container
molecule-container: venv molecule-image ## the role's container runtime on systemd through the host's Docker (scenario container)
	scripts/molecule-container.sh $(TEST_IMAGE) container
