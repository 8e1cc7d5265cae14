#!/usr/bin/env bash
# The agentd command, its image config and its systemd unit, enabled for the next boot.
# shellcheck source=images/provision/lib.sh
. "$(dirname "$0")/lib.sh"

install -d -m 0755 /usr/local/bin
cat > /usr/local/bin/agentd <<WRAPPER
#!/bin/sh
# agentd on the agents-plane image: the sources in $AP_PREFIX on agentd's own Node 24.
exec $AP_PREFIX/node/bin/node $AP_PREFIX/bin/agentd.js "\$@"
WRAPPER
chmod 0755 /usr/local/bin/agentd

install -d -m 0755 /etc/agentd
install -m 0644 "$AP_PREFIX/images/files/agentd.yaml" /etc/agentd/agentd.yaml
install -m 0644 "$AP_PREFIX/systemd/agentd.service" /etc/systemd/system/agentd.service
install -d -m 0700 -o agentd -g agentd /var/lib/agentd
systemctl enable agentd.service

# What this image pins, for operators (and whoever audits the fleet).
"$AP_PREFIX/node/bin/node" "$AP_PREFIX/images/write-image-record.ts" \
  --prefix "$AP_PREFIX" --runtime-root "$AP_RUNTIME_ROOT" --preinstall "$AP_PREINSTALL" --out /etc/agentd/image.json
/usr/local/bin/agentd --version
