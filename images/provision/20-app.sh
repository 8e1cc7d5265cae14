#!/usr/bin/env bash
# The agents-plane sources under $AP_PREFIX (root-owned), their dependencies, agentd's
# own Node 24, and the pinned runtime preinstalled for the agentd user.
# shellcheck source=images/provision/lib.sh
. "$(dirname "$0")/lib.sh"
[ -f "$AP_SOURCE_TARBALL" ] || { log "missing $AP_SOURCE_TARBALL (images/pack.sh makes it)"; exit 1; }

if ! getent passwd agentd >/dev/null; then
  log "creating the agentd system user"
  adduser --system --group --home /var/lib/agentd --no-create-home --shell /usr/sbin/nologin agentd
fi

log "unpacking $AP_SOURCE_TARBALL into $AP_PREFIX"
rm -rf "$AP_PREFIX"
install -d -m 0755 -o root -g root "$AP_PREFIX"
# npm pack puts everything under package/.
tar -xzf "$AP_SOURCE_TARBALL" -C "$AP_PREFIX" --no-same-owner --strip-components=1
cd "$AP_PREFIX" || exit 1
[ -f npm-shrinkwrap.json ] || { log "$AP_SOURCE_TARBALL has no npm-shrinkwrap.json (make it with images/pack.sh)"; exit 1; }
# The devDependency "node" brings the pinned Node 24; postinstall checks better-sqlite3 under it.
npm ci --no-audit --no-fund --loglevel=warn

# agentd's own Node: a root-owned copy, so nothing the agentd user can write is ever
# run by root (operators run `agentd status` as root).
install -d -m 0755 "$AP_PREFIX/node/bin"
install -m 0755 "$(readlink -f node_modules/.bin/node)" "$AP_PREFIX/node/bin/node"
"$AP_PREFIX/node/bin/node" --version

install -d -m 0700 "$AP_RUNTIME_ROOT"
if [ "$AP_PREINSTALL" != none ]; then
  log "preinstalling the pinned runtime ($AP_PREINSTALL) into $AP_RUNTIME_ROOT"
  PATH="$AP_PREFIX/node/bin:$PATH" "$AP_PREFIX/node/bin/node" images/install-runtime.ts \
    --root "$AP_RUNTIME_ROOT" --what "$AP_PREINSTALL"
fi
chown -R agentd:agentd "$AP_RUNTIME_ROOT"

log "dropping devDependencies"
npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn
rm -rf "$AP_PREFIX/.ci" "$AP_PREFIX/test" "$AP_PREFIX/packer" /root/.npm
