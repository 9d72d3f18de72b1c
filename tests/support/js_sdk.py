"""What static/js/im-sdk.js exports, read by importing the module in Node (it needs no DOM)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.services import in_ci

SDK = Path(__file__).resolve().parents[2] / "static" / "js" / "im-sdk.js"

# Functions do not survive JSON: a batch's entry is reduced to its callback name.
_READ = """
const sdk = await import(process.argv[1]);
const batches = Object.fromEntries(Object.entries(sdk.APPLICATION_BATCHES).map(([t, [cb]]) => [t, cb]));
console.log(JSON.stringify({
  HANDLED_EVENTS: sdk.HANDLED_EVENTS,
  EVENT_ROUTES: sdk.EVENT_ROUTES,
  MEMBER_NOTICES: sdk.MEMBER_NOTICES,
  APPLICATION_BATCHES: batches,
}));
"""


def js_sdk_exports() -> dict:
    """The JS SDK's event tables; skips without node (fails under CI=true)."""
    node = shutil.which("node")
    if node is None:
        message = "node is missing: apt-get install -y nodejs"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    done = subprocess.run(
        [node, "--input-type=module", "-e", _READ, SDK.as_uri()], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
