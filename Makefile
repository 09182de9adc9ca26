# The two commands of README.md. Both do their own set-up on a fresh machine:
# a virtualenv in .venv with the pinned dependencies, and (as root) the Debian packages the tests and
# the local chain use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.secchain-installed
APT_PACKAGES := docker-compose wrk modsecurity-crs nginx libnginx-mod-http-modsecurity clamav-daemon clamav chromium fonts-dejavu-core

.PHONY: run test setup apt bench clean

run: setup
	$(VENV)/bin/secchain up

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m loadtest.bench_match
	$(PY) -m loadtest.bench_waf
	$(PY) -m loadtest.bench_waf_crs
	$(PY) -m loadtest.bench_av
	$(PY) -m loadtest.bench_ips

setup: apt $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages: installed when running as root and one is missing; otherwise only reported.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "not root: please install these Debian packages:$$missing"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) var .pytest_cache
