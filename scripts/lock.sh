#!/usr/bin/env bash
# Regenerates the exact pins (requirements*.txt) from the hand-written ranges (requirements*.in)
# with pip-tools' pip-compile, so that every machine installs exactly what was tested.
# Run after editing a .in file; `--upgrade` moves every pin to the newest release the ranges allow:
#   bash scripts/lock.sh [--upgrade]
# The app's pins come first; the test environment (app + extras + Ray + TensorFlow + test
# tools) is locked against them, and the extras', Ray's and TensorFlow's own files against the test lock, so a
# package has one version in every file.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check "pip-tools>=7.4,<8"
compile() { python -m piptools compile --quiet --strip-extras --no-emit-find-links \
  --no-emit-index-url --no-emit-trusted-host --allow-unsafe "$@"; }
compile "$@" --output-file requirements.txt requirements.in
compile "$@" --output-file requirements-dev.txt --constraint requirements.txt requirements-dev.in
compile "$@" --output-file requirements-extras.txt --constraint requirements-dev.txt \
  requirements-extras.in
compile "$@" --output-file requirements-ray.txt --constraint requirements-dev.txt requirements-ray.in
compile "$@" --output-file requirements-tensorflow.txt --constraint requirements-dev.txt \
  requirements-tensorflow.in
