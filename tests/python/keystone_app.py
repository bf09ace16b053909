"""Keystone's WSGI application for gunicorn, in the identity tests.

Run by tests/harness/keystone.rs as ``gunicorn keystone_app:application``
with ``OS_KEYSTONE_CONFIG_DIR`` naming the directory of the test's
``keystone.conf``. Keystone parses the process's command line with
oslo.config when it loads; under gunicorn that command line is gunicorn's,
whose flags oslo.config refuses (the worker then exits with status 2), so
the command line is cut to the program name before Keystone is imported.
"""

import sys

del sys.argv[1:]

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
