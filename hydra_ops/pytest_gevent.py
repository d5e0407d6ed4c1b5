"""pytest plugin loaded first (`-p hydra_ops.pytest_gevent`): gevent-patch before any plugin imports ssl."""

import hydra_ops._gevent  # noqa: F401
