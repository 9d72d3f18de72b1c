"""The web app's strings: every key is in both languages, and every key the app uses exists."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "static" / "js" / "app"


def _languages():
    source = (APP / "i18n.js").read_text(encoding="utf-8")
    body = source[source.index("const STRINGS = {") : source.index("\n};\n")]
    en, zh = body.split('"zh-CN": {')
    keys = lambda block: set(re.findall(r"(?:^|[\s,{])(\w+): \"", block))
    return keys(en), keys(zh)


def test_english_and_chinese_have_the_same_keys():
    en, zh = _languages()
    assert len(en) > 100
    assert en - zh == set() and zh - en == set()


def test_every_key_the_app_asks_for_exists():
    en, _ = _languages()
    used = set()
    for path in APP.glob("*.js"):
        used |= set(re.findall(r"\bt\(\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert used, 'no t("key") calls found'
    assert used - en == set()
