"""``crm.wsgi`` freezes the objects of a started process (``gc.freeze``), so the garbage
collector's full passes no longer walk them on some unlucky request. Checked in a fresh
interpreter: freezing the test process itself would change every other test's collections."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import crm.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "views_loaded": "opportunities.views" in sys.modules and "crm.views" in sys.modules,
    "callable": callable(crm.wsgi.application),
}))
"""


def test_the_server_process_freezes_its_startup_objects():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"}
    out = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["callable"]
    assert probe["views_loaded"]  # the URLconf was loaded before the freeze
    assert probe["frozen"] > 20_000, probe
