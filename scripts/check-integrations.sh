#!/usr/bin/env bash
# Checks what `swift test` cannot: the LiteLLM plug-in against LiteLLM from PyPI (its unit tests,
# then LiteLLM's Router against `rankd mock-provider` with rankd beside it, about 3 minutes), and
# the Kubernetes manifests against the Kubernetes schemas. Needs network access to PyPI and a
# built rankd (swift build). Writes .build/litellm-report.json with the failure rates.
set -euo pipefail
cd "$(dirname "$0")/.."

RANKD_BINARY="${RANKD_BINARY:-$PWD/.build/debug/rankd}"
[ -x "$RANKD_BINARY" ] || { echo "no rankd at $RANKD_BINARY: run swift build first (or set RANKD_BINARY)" >&2; exit 1; }
VENV="${INTEGRATIONS_VENV:-$PWD/.build/integrations-venv}"
# Debian's python3 (python3-venv) when present: a pyenv shim may lack the venv module.
PYTHON="$(command -v /usr/bin/python3 || command -v python3)"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r integrations/requirements.txt
"$VENV/bin/pip" install -q --disable-pip-version-check -e integrations/litellm

echo "== Kubernetes manifests (kubernetes-validate --strict)"
"$VENV/bin/kubernetes-validate" --strict deploy/kubernetes/*.yaml

echo "== LiteLLM plug-in"
cd integrations/litellm
export LITELLM_LOCAL_MODEL_COST_MAP=True RANKD_BINARY
"$VENV/bin/python" -m unittest -v tests.test_validation tests.test_router_with_rankd
