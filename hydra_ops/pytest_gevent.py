"""pytest plugin loaded first (`-p hydra_ops.pytest_gevent`): gevent-patch before any plugin imports ssl.

pyinfra's CLI package runs gevent's monkey.patch_all() on import, and the test suites import it to load
inventories; patching this early keeps the whole session consistent (and silences gevent's warning).
"""

from gevent import monkey

monkey.patch_all()
