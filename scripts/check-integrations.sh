#!/usr/bin/env bash
# Checks what `swift test` cannot: the LiteLLM plug-in against LiteLLM from PyPI (its unit tests,
# LiteLLM's Router against `rankd mock-provider` with rankd beside it, about 3 minutes, then the
# LiteLLM proxy loading the plug-in from its config.yaml, about 1 minute), the OpenTelemetry
# SDK's OTLP/HTTP exporter with gzip against `rankd serve`, and the Kubernetes manifests against
# the Kubernetes schemas. Needs network access to PyPI and a built rankd (swift build). Writes
# .build/litellm-report.json and .build/litellm-proxy-report.json with the shares and failure rates.
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
# As a user installs it (not editable): what the proxy imports is the built package.
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ./integrations/litellm

echo "== Kubernetes manifests (kubernetes-validate --strict)"
"$VENV/bin/kubernetes-validate" --strict deploy/kubernetes/*.yaml deploy/kubernetes-ha/*.yaml

echo "== OpenTelemetry SDK exporter (gzip) into rankd serve"
RANKD_BINARY="$RANKD_BINARY" "$VENV/bin/python" -m unittest -v integrations/otel/test_otel_exporter.py

echo "== LiteLLM plug-in: SDK Router, then the proxy"
cd integrations/litellm
export LITELLM_LOCAL_MODEL_COST_MAP=True RANKD_BINARY LITELLM="$VENV/bin/litellm"
"$VENV/bin/python" -m unittest -v tests.test_validation tests.test_router_with_rankd tests.test_proxy_with_rankd
