"""The WSGI entry point (gunicorn, and ``runserver`` through ``WSGI_APPLICATION``).

Once Django is set up and the URLconf (with every view module) is loaded, the objects that exist
(modules, classes, functions, settings, URL patterns: ~120,000) are moved out of the garbage
collector's reach with ``gc.freeze()``. They live as long as the process anyway. Left in, every
full collection walked them all: 50–70 ms, every few requests, charged to whichever request
happened to trigger it, which was most of a page's p95 (issue #10's benchmarks). With gunicorn's
``--preload`` the frozen objects also stay shared, page for page, between the forked workers.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_wsgi_application()


def freeze_startup_heap() -> int:
    """Load the URLconf, free what start-up left as garbage, then freeze everything left.
    Returns how many objects are frozen."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the URLconf and every view module)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


freeze_startup_heap()
