# gunicorn entry point for Keystone. Config comes from $OS_KEYSTONE_CONFIG_FILES.
import sys

# keystone.server.configure() lets oslo.config parse sys.argv, which in a gunicorn worker is
# gunicorn's command line: the worker would die on "unrecognized arguments" and respawn forever.
sys.argv = sys.argv[:1]

from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
