"""Pillow is loaded by the first photo, not at start: importing the pets plugin and building the
app the way a server does (every plugin enabled, the built-in defaults) leaves ``PIL`` out of
``sys.modules``. Run in a fresh interpreter, because this one has long imported Pillow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

START = """
import json, sys
import mengchong_plugins.pets, mengchong_plugins.pets.routes, mengchong_plugins.pets.generation
import mengchong.server
from mengchong.app import create_app
from mengchong.config_loading import load_settings
from mengchong.keys import plugins_key

app = create_app(load_settings(None, environ={}), enable_all_plugins=True)
started = {
    "plugins": [info.name for info in app[plugins_key] if info.enabled],
    "pil_at_start": sorted(name for name in sys.modules if name == "PIL" or name.startswith("PIL.")),
}
import mengchong_plugins.pets.pixels  # what the first photo does
started["pil_after_a_photo"] = "PIL" in sys.modules
print(json.dumps(started))
"""


def test_a_server_start_does_not_import_pillow(tmp_path: Path) -> None:
    # From an empty directory, and the settings read with no environment: no config file or
    # variable changes what is built.
    done = subprocess.run(
        [sys.executable, "-c", START], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout.strip().splitlines()[-1])
    assert "pets" in started["plugins"]
    assert started["pil_at_start"] == []
    assert started["pil_after_a_photo"]  # the check above can see Pillow when it is there
