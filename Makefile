# Two commands matter: `make demo` (the whole workflow on the embedded AWS) and `make test` (everything CI runs).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
TF_DIR := terraform
BUILD := build
PYTEST_ARGS ?=

export PYTHONDONTWRITEBYTECODE := 1
# A TF_CLI_CONFIG_FILE that points at no file only makes Terraform print warnings.
ifeq ($(wildcard $(TF_CLI_CONFIG_FILE)),)
unexport TF_CLI_CONFIG_FILE
endif

.PHONY: help venv browser lambdas tf-init tf-fmt-check tf-validate tf-test docs lint checkov pytest test demo plan deploy destroy lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	@echo "==> setting up $(VENV) (pinned dependencies)"
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required: it matches the Lambda runtime)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[dev,training]"
	@touch $@

venv: $(VENV)/.installed ## create .venv with the pinned dependencies

CHROMIUM ?= /usr/bin/chromium

# The review console's browser test drives Debian's chromium (Playwright is pinned in the dev extra and uses it
# through executable_path, so nothing is downloaded). CI runs as root without a terminal; the package lists are
# refreshed only when the first install attempt fails.
browser: ## install Debian's chromium for the browser test when $(CHROMIUM) is missing
	@if [ -x "$(CHROMIUM)" ]; then echo "==> chromium: $(CHROMIUM)"; else \
	  echo "==> installing chromium (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  as_root=""; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then as_root="sudo -n -E"; fi; \
	  $$as_root apt-get install -y --no-install-recommends chromium \
	    || { $$as_root apt-get update && $$as_root apt-get install -y --no-install-recommends chromium; } \
	    || { echo "error: could not install Debian's chromium (run as root, or install it and set CHROMIUM)"; exit 1; }; \
	fi

lambdas: venv ## build deterministic Lambda zips into build/lambdas/
	$(PY) scripts/build_lambdas

tf-init: ## terraform init (offline provider mirror, or TF_PLUGIN_DIR)
	@scripts/terraform_init $(TF_DIR) >/dev/null && echo "==> terraform init ok"

tf-fmt-check: ## terraform fmt -check
	terraform fmt -check -recursive $(TF_DIR)

tf-validate: tf-init lambdas ## terraform validate
	terraform -chdir=$(TF_DIR) validate

tf-test: tf-init lambdas ## terraform test (mock provider, no AWS calls): the root module's, then each module's own
	terraform -chdir=$(TF_DIR) test
	@for tests in $(TF_DIR)/modules/*/tests; do \
	  module=$${tests%/tests}; echo "==> terraform test $$module"; \
	  scripts/terraform_init $$module >/dev/null && terraform -chdir=$$module test || exit 1; \
	done

docs: venv ## regenerate the Inputs/Outputs tables of every Terraform README from the .tf files
	$(PY) scripts/terraform_docs

lint: venv ## ruff
	$(VENV)/bin/ruff check .

checkov: venv ## checkov over every Terraform module (offline; skips are inline, each with its reason)
	scripts/checkov

pytest: venv lambdas ## pytest: in-process tests, then the embedded-AWS tests (the browser test among them) in a process of their own
	@for selection in "not embedded" "embedded"; do \
	  echo "==> pytest -m '$$selection'"; rc=0; \
	  $(VENV)/bin/pytest -m "$$selection" $(PYTEST_ARGS) || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no '$$selection' tests"; exit 1; fi; \
	  if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	done

test: venv browser lambdas tf-fmt-check tf-validate tf-test lint checkov pytest ## the whole test suite (what CI runs)

demo: venv browser ## the whole workflow on the embedded AWS, report in build/demo/ (KEEP=1 keeps the stack up)
	$(PY) scripts/demo

plan: venv lambdas ## terraform plan against the AWS account in your environment (never run by tests)
	BACKEND=1 scripts/terraform_init $(TF_DIR)
	terraform -chdir=$(TF_DIR) plan -out=deploy.tfplan

deploy: plan ## terraform apply the plan made by `make plan`
	terraform -chdir=$(TF_DIR) apply deploy.tfplan

destroy: venv lambdas ## terraform destroy in the AWS account in your environment
	BACKEND=1 scripts/terraform_init $(TF_DIR)
	terraform -chdir=$(TF_DIR) destroy

lock: venv ## regenerate requirements/constraints.txt from the installed environment
	{ echo "# Exact versions of every Python package the project installs (pip install -c this file)."; \
	  echo "# Regenerate with: make lock"; \
	  $(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > requirements/constraints.txt

clean: ## remove build outputs (keeps .venv)
	rm -rf $(BUILD) $(TF_DIR)/.terraform
