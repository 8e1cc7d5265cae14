#!/usr/bin/env bash
# npm pack of this repository for the image build: DIR/agents-plane.tgz. The lock
# file travels as npm-shrinkwrap.json (npm pack leaves package-lock.json out), so
# the image's `npm ci` installs exactly the versions CI tested.
#   images/pack.sh DIR
set -euo pipefail
out="${1:?usage: images/pack.sh DIR}"
cd "$(dirname "$0")/.."
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cp package-lock.json npm-shrinkwrap.json
trap 'rm -f npm-shrinkwrap.json' EXIT
name="$(npm pack --silent --pack-destination "$out")"
mv -f "$out/$name" "$out/agents-plane.tgz"
echo "$out/agents-plane.tgz"
