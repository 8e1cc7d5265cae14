#!/usr/bin/env bash
# Make the disk a template: no build toolchain, caches, logs, machine identity or agent state.
# shellcheck source=images/provision/lib.sh
. "$(dirname "$0")/lib.sh"
apt-get purge -y -q --auto-remove make g++ python3 >/dev/null || true
apt-get clean
rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache /tmp/agents-plane*
# agentd state from a test run during the build must not ship: every instance enrols itself.
find /var/lib/agentd -mindepth 1 -delete
rm -f "$AP_RUNTIME_ROOT/active.json"
rm -rf "$AP_RUNTIME_ROOT/locks" "$AP_RUNTIME_ROOT/tmp" "$AP_RUNTIME_ROOT/npm-cache"
# A fresh machine id per instance (systemd makes one at first boot).
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
find /var/log -type f -exec truncate -s 0 {} +
