#!/usr/bin/env bash
# Installs what the tests need and runs the whole suite. Python packages come from the exact
# pins of requirements-dev.txt (the app, the optional extras the tests cover: torch, ncps and
# neurogym, Ray, TensorFlow, and the test tools; `bash scripts/lock.sh` regenerates them);
# Debian's Chromium serves the browser tests, Node.js the painter's JavaScript tests, nginx
# the check of deploy/nginx.conf (`nginx -t`) and systemd that of the unit (`systemd-analyze
# verify`); with CI=true a missing nginx or systemd fails its test.
# First `node --test`, then pytest on limconn's default backend (JAX); extra arguments go to
# pytest. Without extra arguments, the modules that train (`TENSORFLOW_MODULES`) then run a
# second time on Keras's TensorFlow backend; the script fails if either run fails (exit status
# 5, no test collected, counts only when the main run collected none).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/systemd-analyze ] || missing+=(systemd)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
node --test tests/js/
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
TENSORFLOW_MODULES=(tests/test_masking.py tests/test_enforcement.py tests/test_grouped.py
  tests/test_fused.py tests/test_training.py tests/test_strategies.py tests/test_resume.py
  tests/test_backends.py)
status=0
python -m pytest "$@" || status=$?
if [ "$#" -eq 0 ]; then
  echo "Again on TensorFlow: ${TENSORFLOW_MODULES[*]}"
  KERAS_BACKEND=tensorflow python -m pytest "${TENSORFLOW_MODULES[@]}" || tf_status=$?
  if [ "${tf_status:-0}" != 0 ] && { [ "$status" = 0 ] || [ "$status" = 5 ]; }; then
    status=$tf_status
  fi
fi
exit "$status"
