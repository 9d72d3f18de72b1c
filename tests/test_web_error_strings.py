"""Every error code the web client can meet has a sentence in English and Chinese, shown instead of
the server's errMsg (English, and it may name internal ids)."""

import re
from pathlib import Path

from im import errors

STATIC = Path(__file__).resolve().parents[1] / "static" / "js"
APP = STATIC / "app"


def _strings():
    """Each language's `key: "text"` pairs of i18n.js."""
    source = (APP / "i18n.js").read_text(encoding="utf-8")
    body = source[source.index("const STRINGS = {") : source.index("\n};\n")]
    en, zh = body.split('"zh-CN": {')
    pairs = lambda block: dict(re.findall(r'(?:^|[\s,{])(\w+): "((?:[^"\\]|\\.)*)"', block))
    return pairs(en), pairs(zh)


def _codes():
    """The server's codes (im/errors.py) and the JS SDK's own (its ErrorCode)."""
    server = {cls.code for cls in errors.ALL_ERRORS}
    sdk_source = (STATIC / "im-sdk.js").read_text(encoding="utf-8")
    sdk_block = re.search(r"export const ErrorCode = Object\.freeze\(\{([^}]*)\}\)", sdk_source).group(1)
    sdk = {int(code) for code in re.findall(r":\s*(\d+)", sdk_block)}
    assert len(server) > 40 and {10001, 10002, 10003, 10004} <= sdk
    return server | sdk


def test_every_error_code_has_a_sentence_in_both_languages():
    en, zh = _strings()
    for language, strings in (("en", en), ("zh-CN", zh)):
        missing = sorted(code for code in _codes() if not strings.get(f"err{code}", "").strip())
        assert missing == [], f"{language} has no sentence for {missing}"
        assert strings.get("errUnknown", "").strip(), f"{language} has no sentence for an unknown code"


def test_the_chinese_sentences_are_chinese_and_fill_in_nothing():
    en, zh = _strings()
    keys = [key for key in en if key == "errUnknown" or re.fullmatch(r"err\d+", key)]
    for key in keys:
        # a sentence with a placeholder could be handed an id; one left in English was not translated
        assert "{" not in en[key] and "{" not in zh[key], key
        assert re.search(r"[\u4e00-\u9fff]", zh[key]), f"{key} is not translated: {zh[key]!r}"


def test_no_view_shows_the_servers_message():
    for path in APP.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        code = "\n".join(line for line in source.splitlines() if not line.strip().startswith(("//", "/*", "*")))
        assert "errMsg" not in code, f"{path.name} reads errMsg"
