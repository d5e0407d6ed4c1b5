#!/usr/bin/env bash
# Install everything hydra-ops needs on a fresh Debian 12 machine (as root): host tools + a project venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=(debootstrap systemd-container iptables iproute2 openssh-client age curl ca-certificates shellcheck nix-bin
      g++ make)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# Node.js and npm build the local cluster's n8n from the npm registry (its SQLite driver compiles against the Node.js
# headers). A Node.js already installed (e.g. from NodeSource, which ships its headers) is used as it is.
if ! command -v npm >/dev/null || [ ! -e /usr/include/node/node_api.h ]; then
  if dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
    echo "NodeSource's nodejs is installed without npm or its headers: reinstall that package" >&2; exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm libnode-dev
fi

# nginx's binary checks generated configs in the unit tests (nginx -t -c); it must not start a server here.
if ! dpkg-query -W -f='${Status}' nginx-light 2>/dev/null | grep -q "install ok installed"; then
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1; fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || { apt-get install -y -q python3-venv && python3 -m venv .venv; }
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
echo "hydra-ops installed: $(.venv/bin/hydra --help >/dev/null && echo ok) ($(.venv/bin/pyinfra --version))"
