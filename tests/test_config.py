"""Settings: the Vonage API choice and its credentials, checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from smsproxy.config import ConfigError, Settings, load_settings

BASE: dict[str, Any] = {
    "_env_file": None,
    "secret_key": "test-secret-key-that-is-long-enough",
    "database_url": "sqlite:///unused.db",
}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any, form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def problems(**values: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(**BASE, **values)
    return caught.value.lines


def messages_settings(**values: Any) -> Settings:
    return load_settings(**BASE, vonage_api="messages", vonage_application_id="app-id", **values)


def test_sms_api_is_the_default_and_needs_key_and_secret() -> None:
    settings = load_settings(**BASE, vonage_api_key="key", vonage_api_secret="secret")
    assert (settings.carrier, settings.vonage_api) == ("vonage", "sms")
    assert settings.vonage_api_host == "api.nexmo.com"

    [line] = problems(carrier="vonage", vonage_api_key="key")
    assert "needs VONAGE_API_KEY and VONAGE_API_SECRET" in line
    assert line.endswith("missing: VONAGE_API_SECRET")


def test_messages_api_reads_the_key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    key_file = tmp_path / "private.key"
    key_file.write_text(pem(rsa_key))

    settings = messages_settings(vonage_private_key=str(key_file))

    assert settings.carrier == "vonage"  # chosen by the application id alone
    assert settings.vonage_private_key == pem(rsa_key)
    assert "BEGIN" not in repr(settings)


@pytest.mark.parametrize(
    "write",
    [
        lambda key: pem(key),
        lambda key: pem(key, serialization.PrivateFormat.TraditionalOpenSSL),
        lambda key: pem(key).replace("\n", "\\n"),  # as some dashboards store it
        lambda key: "\n  " + pem(key) + "\n",
    ],
    ids=["pkcs8", "pkcs1", "escaped-newlines", "surrounding-space"],
)
def test_messages_api_takes_the_pem_itself(rsa_key: rsa.RSAPrivateKey, write: Any) -> None:
    settings = messages_settings(vonage_private_key=write(rsa_key))
    # Always PKCS#8 afterwards: the SDK takes no other form.
    assert settings.vonage_private_key == pem(rsa_key)


def test_messages_api_says_what_is_missing(tmp_path: Path) -> None:
    [line] = problems(carrier="vonage", vonage_api="messages", vonage_api_key="key")
    assert "VONAGE_API=messages needs VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY" in line
    assert line.endswith("missing: VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY")

    [line] = problems(carrier="vonage", vonage_api="messages", vonage_application_id="a")
    assert line.endswith("missing: VONAGE_PRIVATE_KEY")


def test_an_application_id_without_vonage_api_messages_gets_a_hint() -> None:
    [line] = problems(vonage_application_id="app-id")  # CARRIER chosen as vonage by it
    assert "VONAGE_API=sms needs VONAGE_API_KEY and VONAGE_API_SECRET" in line
    assert line.endswith("(to send with VONAGE_APPLICATION_ID, set VONAGE_API=messages)")


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    [line] = problems(vonage_private_key=str(tmp_path / "nope.key"))
    assert line.startswith("VONAGE_PRIVATE_KEY: there is no file")
    assert "nope.key" in line


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    [line] = problems(vonage_private_key=str(tmp_path))  # a directory
    assert line.startswith(f"VONAGE_PRIVATE_KEY: cannot read '{tmp_path}'")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not a key at all", "is not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PEM"),
        (
            pem(ec.generate_private_key(ec.SECP256R1())),
            "is not an RSA key",
        ),
        (
            rsa.generate_private_key(public_exponent=65537, key_size=1024)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
            .decode(),
            "protected by a passphrase",
        ),
    ],
    ids=["text", "bad-pem", "ec-key", "encrypted"],
)
def test_a_bad_key_is_refused_without_echoing_it(tmp_path: Path, content: str, words: str) -> None:
    key_file = tmp_path / "private.key"
    key_file.write_text(content)

    [from_file] = problems(vonage_private_key=str(key_file))
    assert words in from_file and str(key_file) in from_file

    if "BEGIN" in content:
        [inline] = problems(vonage_private_key=content)
        assert words in inline and "the PEM text given" in inline
        assert content.strip().splitlines()[1] not in inline  # the key is not shown back


@pytest.mark.parametrize("host", ["https://api.nexmo.com", "api.nexmo.com/v1", "", "a b"])
def test_api_host_is_a_bare_host(host: str) -> None:
    [line] = problems(vonage_api_host=host)
    assert line.startswith("VONAGE_API_HOST: must be a host name")


def test_unsigned_webhooks_are_refused_unless_allowed() -> None:
    assert load_settings(**BASE).vonage_webhooks_unsigned == "refuse"
    assert load_settings(**BASE, vonage_webhooks_unsigned="allow").vonage_webhooks_unsigned == (
        "allow"
    )
    [line] = problems(vonage_webhooks_unsigned="yes")
    assert line.startswith("VONAGE_WEBHOOKS_UNSIGNED:")
