#!/usr/bin/env bash
# Installs what the tests need and runs the whole suite. Python packages come from the exact
# pins of requirements-dev.txt (the app, the optional extras the tests cover: torch, ncps and
# neurogym, Ray, and the test tools; `bash scripts/lock.sh` regenerates them); Debian's Chromium
# serves the browser tests, Node.js the painter's JavaScript tests and nginx the check of
# deploy/nginx.conf (`nginx -t`; with CI=true a missing nginx fails that test). First
# `node --test`, then pytest; extra arguments go to pytest. Without extra arguments, the
# modules that train (`JAX_MODULES`) then run a second time on Keras's JAX backend; the
# script fails if either run fails (exit status 5, no test collected, counts only when the
# main run collected none).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
node --test tests/js/
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
JAX_MODULES=(tests/test_masking.py tests/test_enforcement.py tests/test_grouped.py tests/test_fused.py tests/test_training.py
  tests/test_strategies.py tests/test_resume.py tests/test_backends.py)
status=0
python -m pytest "$@" || status=$?
if [ "$#" -eq 0 ]; then
  echo "Again on JAX: ${JAX_MODULES[*]}"
  KERAS_BACKEND=jax python -m pytest "${JAX_MODULES[@]}" || jax_status=$?
  if [ "${jax_status:-0}" != 0 ] && { [ "$status" = 0 ] || [ "$status" = 5 ]; }; then
    status=$jax_status
  fi
fi
exit "$status"
