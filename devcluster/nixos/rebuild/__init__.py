"""The `nixos-rebuild` test double for the NixOS-shaped Debian hosts of the local cluster.

`install(root, lib_dir_on_host)` puts it on a host root; `store.make_store` builds the host's fake /nix/store.
"""

from .install import install
from .store import make_store

__all__ = ["install", "make_store"]
