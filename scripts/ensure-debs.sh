#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need, when their programs are missing.
# Usage: scripts/ensure-debs.sh program:package [program:package ...]
set -euo pipefail
missing=()
for pair in "$@"; do
  prog=${pair%%:*}; pkg=${pair##*:}
  command -v "$prog" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
