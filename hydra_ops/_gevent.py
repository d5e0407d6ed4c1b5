"""Import first: pyinfra's CLI package runs gevent's monkey.patch_all() on import; patching before anything
imports ssl (requests, urllib3) keeps the process consistent and silences gevent's warning."""

from gevent import monkey

monkey.patch_all()
