#!/usr/bin/env bash
# Installs what the tests need and runs the whole suite. Python packages come from the exact
# pins of requirements-dev.txt (the app, the optional extras the tests cover: torch, ncps and
# neurogym, Ray, and the test tools; `bash scripts/lock.sh` regenerates them); Debian's Chromium
# serves the browser tests, Node.js the painter's JavaScript tests and nginx the check of
# deploy/nginx.conf (`nginx -t`; with CI=true a missing nginx fails that test). First
# `node --test`, then pytest; extra arguments go to pytest.
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
exec python -m pytest "$@"
