#!/usr/bin/env bash
# Debian packages: systemd-notify (agentd's sd_notify), CA certificates, and the
# bootstrap toolchain. Debian's nodejs + npm only run `npm ci` here; agentd and the
# gateway run on the pinned Node 24. npm stays for a pin the image does not carry.
# python3, make and g++ build better-sqlite3 when no prebuilt binary can be fetched;
# 90-cleanup.sh removes them.
# shellcheck source=images/provision/lib.sh
. "$(dirname "$0")/lib.sh"
log "installing Debian packages"
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ca-certificates curl systemd tar gzip nodejs npm python3 make g++
