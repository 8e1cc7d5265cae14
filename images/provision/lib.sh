# shellcheck shell=bash
# Shared settings of the provisioning scripts (sourced, not run). Every value can be
# overridden from the environment: Packer passes them, and so does the chroot test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# npm pack of this repository (images/pack.sh), uploaded by Packer.
AP_SOURCE_TARBALL="${AP_SOURCE_TARBALL:-/tmp/agents-plane.tgz}"
AP_PREFIX="${AP_PREFIX:-/opt/agents-plane}"
AP_RUNTIME_ROOT="${AP_RUNTIME_ROOT:-/var/lib/agentd-runtime}"
# What to install into the runtime root now: "all" (the pinned Node and OpenClaw, so the
# first boot downloads nothing), "node" (tests: OpenClaw is ~650 MB) or "none".
AP_PREINSTALL="${AP_PREINSTALL:-all}"
log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
