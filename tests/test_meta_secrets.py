"""Secrets are compared in constant time: no `==` or `!=` in the code has a password,
token, signature, secret or digest on either side. (hmac.compare_digest, argon2's
verify and itsdangerous do the comparing.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import smsproxy

PACKAGE = Path(smsproxy.__file__).parent
SECRET_NAMES = re.compile(r"secret|token|passw|signature|\bsig\b|digest|fingerprint|key_hash", re.I)
# Comparisons that look like one and are not, each with its reason.
ALLOWED = {
    # A database lookup of a key's SHA-256 digest through a unique index: the digest of
    # an attacker's guess is unpredictable, so the time an index takes reveals nothing.
    ("proxy/keys.py", "ApiKey.key_hash == digest(presented)"),
    # The hash of the caller's own request body, replayed to that same caller: no secret.
    ("web/api/idempotency.py", "record.request_hash != fingerprint"),
}


def secret_comparisons(source: str, path: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(side, ast.Constant) and side.value is None for side in sides):
            continue
        text = ast.unparse(node)
        named = [ast.unparse(side) for side in sides if not isinstance(side, ast.Constant)]
        if any(SECRET_NAMES.search(name) for name in named) and (path, text) not in ALLOWED:
            found.append(f"{path}:{node.lineno}: {text}")
    return found


def test_no_secret_is_compared_with_equals() -> None:
    found = []
    for file in sorted(PACKAGE.rglob("*.py")):
        relative = file.relative_to(PACKAGE).as_posix()
        if relative.startswith("migrations/"):
            continue
        found += secret_comparisons(file.read_text(), relative)
    assert found == []


def test_the_check_finds_a_plain_comparison() -> None:
    careless = "def ok(token, expected_token):\n    return token == expected_token\n"
    assert secret_comparisons(careless, "x.py") == ["x.py:2: token == expected_token"]
    careful = "import hmac\ndef ok(a, b):\n    return hmac.compare_digest(a, b)\n"
    assert secret_comparisons(careful, "x.py") == []
