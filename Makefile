# The two commands a reader needs:  `make book` (build the whole book)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= ci
# A pinned torch; on a CPU-only machine point TORCH_INDEX at PyTorch's CPU wheel index to avoid
# downloading CUDA packages (see README).
TORCH ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: install book execute site test bench smoke site-check lab clean clean-results

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PY) -m pip install -e ".[book,test,cluster]"
	touch $@

book: install            ## execute every notebook at $(PROFILE) and compile the site into _build/html
	$(PY) -m bnopt.build --profile $(PROFILE)

test: install            ## run the test suite
	$(PY) -m pytest

smoke: install           ## every training loop of $(PROFILE) for a few steps: bugs found early, full times estimated
	$(PY) -m bnopt.build --profile $(PROFILE) --smoke

bench: install           ## speed ratios against plain implementations
	$(PY) benchmarks/run_all.py

site-check: install      ## open every built page in headless Chromium (needs Debian's chromium, chromium-driver)
	$(PY) -m pip install -q "selenium>=4.10"
	$(PY) -m bnopt.sitecheck _build/html

lab: install             ## JupyterLab on book/: each page's .py opens as a notebook (jupytext); installs the lab extra
	$(PY) -m pip install -q -e ".[lab]"
	$(PY) -m jupyter lab book/

clean:                   ## remove build outputs (keeps cached results)
	rm -rf _build book/*.ipynb

clean-results:           ## remove cached experiment results
	rm -rf data/results data/cache
