# DataVisor developer entry points. `make run` and `make test` are the two README commands;
# both build .venv from uv.lock first, with a CPU-only torch.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
UV_VERSION  := 0.13.8
VENV        := .venv
TOOLS       := .tools
BUILD       := build
# uv on PATH wins; otherwise a pinned uv is bootstrapped into .tools (needs python3-venv).
UV          ?= $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)

# torch: the version comes from pyproject.toml (the only place it is pinned); the build is always CPU.
# Default source is the PyTorch CPU index; TORCH_WHEELS=DIR installs from a local wheel directory
# instead (offline hosts). A directory holding the matching +cpu wheel is picked up automatically.
# The venv is synced in one step (locked requirements + torch+cpu + the project), so a rebuild never
# leaves a window without torch for a server that is running from it.
TORCH_VERSION := $(shell sed -n 's/^ *"torch==\([0-9][0-9.]*\)".*/\1/p' pyproject.toml)
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu
TORCH_WHEELS  ?= $(if $(wildcard /opt/wheels/torch-$(TORCH_VERSION)+cpu-*.whl),/opt/wheels,)
# For the one-step sync: only torch comes from here, everything else from PyPI with the lock's hashes.
TORCH_LINKS   := $(if $(TORCH_WHEELS),$(TORCH_WHEELS),$(TORCH_INDEX)/torch/)
# Packages that exist only for CUDA builds; they are in uv.lock (PyPI's torch wheel asks for them)
# and must never be installed.
CUDA_ONLY_RE  := ^(torch|triton|nvidia-|cuda-)

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(BUILD)/requirements.txt: uv.lock pyproject.toml | $(UV)
	@mkdir -p $(BUILD)
	$(UV) export --frozen --all-groups --no-emit-project --format requirements-txt --output-file $@.all >/dev/null
	awk '/^[^ #]/ { skip = ($$0 ~ /$(CUDA_ONLY_RE)/) } !skip' $@.all > $@
	@rm -f $@.all

$(VENV)/.installed: $(BUILD)/requirements.txt | $(UV)
	test -x $(VENV)/bin/python || $(UV) venv --python $(PYTHON) $(VENV)
	{ cat $(BUILD)/requirements.txt; echo "torch==$(TORCH_VERSION)+cpu"; echo "-e ."; } > $(BUILD)/venv-requirements.txt
	$(UV) pip sync --python $(VENV)/bin/python --find-links $(TORCH_LINKS) $(BUILD)/venv-requirements.txt
	$(VENV)/bin/python -c "import torch, sys; sys.exit('torch has CUDA: ' + str(torch.version.cuda)) if torch.version.cuda else print('torch', torch.__version__, 'CPU only')"
	@if $(UV) pip list --python $(VENV)/bin/python 2>/dev/null | grep -Ei '^(nvidia-|cuda-|triton)'; then echo 'CUDA packages installed' >&2; exit 1; fi
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## build .venv from uv.lock with CPU-only torch

.PHONY: run
run: venv ## serve the API on the embedded default (./data/datavisor.duckdb, 127.0.0.1:8000)
	$(VENV)/bin/datavisor serve

.PHONY: test
test: venv ## run the test suite (real uvicorn, real DuckDB)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff
	$(VENV)/bin/ruff check app plugins tests bench

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
WHEELHOUSE      := $(DIST)/wheelhouse
MOLECULE_IMAGE  ?= datavisor-molecule:bookworm
MOLECULE_SCENARIO ?= default
# Target hosts: Debian 12 (CPython 3.11, glibc 2.36) on x86_64, whatever the controller runs.
WHEEL_TARGET    := --only-binary :all: --python-version 3.11 --implementation cp --abi cp311 \
                   --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64

$(TOOLS)/bin/pip:
	$(PYTHON) -m venv $(TOOLS)

.PHONY: dist
dist: | $(UV) ## project wheel, plugins and locked runtime requirements for the Ansible role (dist/)
	@mkdir -p $(DIST)
	rm -rf $(DIST)/datavisor-*.whl $(DIST)/plugins
	$(UV) build --wheel --quiet --out-dir $(DIST)
	$(UV) export --frozen --no-default-groups --no-emit-project --format requirements-txt --output-file $(DIST)/requirements.all >/dev/null
	awk '/^[^ #]/ { skip = ($$0 ~ /$(CUDA_ONLY_RE)/) } !skip' $(DIST)/requirements.all > $(DIST)/requirements.txt
	@rm -f $(DIST)/requirements.all
	echo "torch==$(TORCH_VERSION)+cpu" > $(DIST)/torch-requirement.txt
	$(PYTHON) -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.startswith('plugins/')]" $(DIST)/datavisor-*.whl $(DIST)

.PHONY: wheelhouse
wheelhouse: dist | $(TOOLS)/bin/pip ## dist/ plus every runtime wheel (CPU torch included) in dist/wheelhouse.tar, for hosts without internet
	@mkdir -p $(WHEELHOUSE)
	$(TOOLS)/bin/pip download --quiet --disable-pip-version-check --require-hashes $(WHEEL_TARGET) -r $(DIST)/requirements.txt -d $(WHEELHOUSE)
	$(if $(TORCH_WHEELS),cp -u $(TORCH_WHEELS)/torch-$(TORCH_VERSION)+cpu-cp311-*.whl $(WHEELHOUSE)/,$(TOOLS)/bin/pip download --quiet --disable-pip-version-check --no-deps $(WHEEL_TARGET) --index-url $(TORCH_INDEX) -d $(WHEELHOUSE) "torch==$(TORCH_VERSION)+cpu")
	tar -C $(WHEELHOUSE) -cf $(DIST)/wheelhouse.tar .
	@du -sh $(DIST)/wheelhouse.tar

.PHONY: molecule-image
molecule-image: ## build the Molecule test image (Debian 12 + systemd) with debootstrap, unless it exists
	@docker image inspect $(MOLECULE_IMAGE) >/dev/null 2>&1 || ansible/molecule/image/build.sh $(MOLECULE_IMAGE)

.PHONY: molecule
molecule: venv wheelhouse molecule-image ## deploy with the role onto systemd containers and verify (MOLECULE_SCENARIO=default)
	cd ansible && PATH=$(CURDIR)/$(VENV)/bin:$$PATH MOLECULE_IMAGE=$(MOLECULE_IMAGE) molecule test -s $(MOLECULE_SCENARIO)

.PHONY: molecule-proxy
molecule-proxy: ## scenario proxy: Caddy with HTTPS and basic auth in front of the backend, curl from inside
	$(MAKE) molecule MOLECULE_SCENARIO=proxy

.PHONY: ansible-lint
ansible-lint: venv ## ansible-lint (production profile) on the roles and playbooks
	cd ansible && PATH=$(CURDIR)/$(VENV)/bin:$$PATH ansible-lint

# --- Backend image (Dockerfile.backend) ----------------------------------------------------------------
PROJECT_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE           ?= datavisor-backend:$(PROJECT_VERSION)
TEST_IMAGE      ?= datavisor-backend:test
# BuildKit when the buildx plugin is there, the classic builder otherwise (the Dockerfile needs neither).
# Recursive on purpose: the shell evaluates it in the image recipes only.
DOCKER_BUILDKIT ?= $$(docker buildx version >/dev/null 2>&1 && echo 1 || echo 0)

.PHONY: image
image: ## build the backend image the production way (python:3.14-slim, uv from ghcr.io, PyPI + PyTorch CPU index)
	DOCKER_BUILDKIT=$(DOCKER_BUILDKIT) docker build -f Dockerfile.backend -t $(IMAGE) --build-arg TORCH_INDEX=$(TORCH_INDEX) .

.PHONY: image-test
image-test: | $(UV) $(TOOLS)/bin/pip ## build the image offline (Debian stand-in bases, local wheelhouse) and prove health, stop, data
	DOCKER_BUILDKIT=$(DOCKER_BUILDKIT) UV=$(UV) UV_VERSION=$(UV_VERSION) TORCH_VERSION=$(TORCH_VERSION) \
	TORCH_WHEELS=$(TORCH_WHEELS) TORCH_INDEX=$(TORCH_INDEX) PYTHON=$(TOOLS)/bin/python tests/image/build_offline.sh $(TEST_IMAGE)
	$(PYTHON) tests/image/check_image.py $(TEST_IMAGE)

.PHONY: molecule-container
molecule-container: venv molecule-image ## the role's container runtime on systemd through the host's Docker (scenario container)
	docker image inspect $(TEST_IMAGE) >/dev/null 2>&1 || $(MAKE) image-test
	docker tag $(TEST_IMAGE) datavisor-backend:molecule
	docker save datavisor-backend:molecule --output $(BUILD)/image/datavisor-backend-molecule.tar
	cd ansible && PATH=$(CURDIR)/$(VENV)/bin:$$PATH MOLECULE_IMAGE=$(MOLECULE_IMAGE) molecule test -s container
	rm -f $(BUILD)/image/datavisor-backend-molecule.tar $(BUILD)/image/datavisor-backend-molecule-next.tar
	docker rmi datavisor-backend:molecule >/dev/null
