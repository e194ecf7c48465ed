"""Settings, read from the environment and a `.env` file and validated at start-up.

Every field here is a setting a person can set; the README documents each of them (a
test keeps the two in step). Vonage's usual variable names are the field names.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A send retried after one that got no answer waits this many times VONAGE_TIMEOUT_SECONDS.
PATIENT_SEND_FACTOR = 3
LEASE_MARGIN_SECONDS = 2  # for the rate limit's wait and recording the outcome
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "xxx"}
DEFAULT_DATABASE_URL = "sqlite:///smsproxy.db"


class ConfigError(Exception):
    """Raised with one human-readable line per bad or missing setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    smsproxy_env: Literal["development", "production", "test"] = Field(
        "production", description="development relaxes the SECRET_KEY check; production does not."
    )
    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the database.")
    redis_url: str | None = Field(None, description="Redis URL for cross-process live events.")
    secret_key: str | None = Field(None, description="Signs session cookies and CSRF tokens.")
    host: str = Field("127.0.0.1", description="Address `smsproxy run` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `smsproxy run` listens on.")
    public_url: str | None = Field(None, description="Base URL the app is reached at.")
    trusted_proxy_hops: int = Field(
        0, ge=0, le=10, description="Proxies in front whose X-Forwarded-* headers are trusted."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    default_region: str | None = Field(
        None, min_length=2, max_length=2, description="Region for numbers typed without +."
    )

    carrier: Literal["sandbox", "vonage"] | None = None
    vonage_api: Literal["sms", "messages"] = Field(
        "sms", description="Which Vonage API sends SMS: the SMS API or the Messages API."
    )
    vonage_api_key: str | None = None
    vonage_api_secret: str | None = None
    vonage_application_id: str | None = None
    # A path or the PEM itself on input; after validation always the PEM (PKCS#8) text.
    vonage_private_key: str | None = Field(None, repr=False)
    vonage_signature_secret: str | None = None
    vonage_signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] = "md5hash"
    vonage_webhooks_unsigned: Literal["refuse", "allow"] = "refuse"
    vonage_rest_host: str = "rest.nexmo.com"
    vonage_api_host: str = "api.nexmo.com"
    vonage_timeout_seconds: float = Field(10.0, gt=0)

    send_rate_per_second: float = Field(30.0, gt=0)
    # Sends per second reach at most SEND_CONCURRENCY / the carrier's answer time: 16
    # keeps up with 30/s while Vonage answers within half a second.
    send_concurrency: int = Field(16, ge=1, le=256)
    send_max_age_seconds: int = Field(6 * 3600, ge=1)
    send_lease_seconds: int = Field(60, ge=5)
    concat_timeout_seconds: int = Field(60, ge=1)
    sweep_interval_seconds: float = Field(15.0, gt=0)
    signature_max_skew_seconds: int = Field(300, ge=1)

    # Security: login throttling per account, webhook rate limits per address.
    login_account_attempts: int = Field(
        5, ge=1, le=1000, description="Failed logins per account before it is slowed down."
    )
    login_account_period_seconds: int = Field(
        900, ge=10, le=86400, description="Window the failed logins of an account count in."
    )
    carrier_webhook_rate_per_second: float = Field(
        100.0, gt=0, description="Carrier webhooks per second from one address."
    )

    # Integrations: signed events to integrators' webhook endpoints.
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_concurrency: int = Field(4, ge=1, le=64)
    webhook_retry_seconds: int = Field(24 * 3600, ge=60)
    webhook_disable_after_seconds: int = Field(3 * 24 * 3600, ge=60)
    webhook_log_days: int = Field(30, ge=1, le=3650)

    # The database under load: how long anything may wait for it, and how many
    # connections each process keeps; which processes run the background jobs.
    database_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Longest wait for the database before answering 503."
    )
    database_pool_size: int = Field(5, ge=1, le=100)
    database_max_overflow: int = Field(5, ge=0, le=100)
    background_jobs: Literal["in-process", "off"] = Field(
        "in-process", description="Whether web processes run the sender and sweepers."
    )

    intro_template: str = (
        "You are now connected with {other}. Reply to this number to message them."
    )
    goodbye_template: str = "This conversation has ended. Thank you."
    ended_reply: str = "This conversation has ended. Messages to this number are not forwarded."

    # Privacy: contact details in texts, opt-outs, automatic replies, retention
    contact_policy: Literal["off", "redact", "hold"] = Field(
        "redact", description="What a participant's text with a phone number or e-mail gets."
    )
    opt_out_keywords: str = "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT"
    opt_in_keywords: str = "START, UNSTOP"
    help_keywords: str = "HELP"
    opt_out_reply: str = (
        "You will get no more messages from this service. Reply START to receive them again."
    )
    opt_in_reply: str = "You will receive messages from this service again. Reply STOP to stop."
    help_reply: str = (
        "This number relays messages for a service you use. Reply STOP to get no more."
    )
    auto_replies_per_hour: int = Field(
        100, ge=0, description="Automatic replies (ended, STOP, START, HELP) per hour, overall."
    )
    retention_days: int | None = Field(
        None, ge=1, le=36500, description="Erase texts of chats closed this many days ago."
    )

    @field_validator("opt_out_keywords", "opt_in_keywords", "help_keywords")
    @classmethod
    def _keywords(cls, value: str) -> str:
        words = keyword_list(value)
        for word in words:
            if not word.isalnum():
                raise ValueError(
                    f"{word!r} is not a keyword: use letters and digits, separated by commas"
                )
        return ", ".join(words)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        import phonenumbers

        if value is None:
            return None
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be an ISO 3166 region code such as GB or US")
        return value.upper()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("vonage_private_key")
    @classmethod
    def _private_key(cls, value: str | None) -> str | None:
        return private_key_pem(value) if value and value.strip() else None

    @field_validator("vonage_rest_host", "vonage_api_host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        host = value.strip()
        if not host or "/" in host or any(char.isspace() for char in host):
            raise ValueError("must be a host name (and optional :port) without https:// or a path")
        return host

    @model_validator(mode="after")
    def _keywords_apart(self) -> Settings:
        lists = {
            "OPT_OUT_KEYWORDS": self.opt_out_keywords,
            "OPT_IN_KEYWORDS": self.opt_in_keywords,
            "HELP_KEYWORDS": self.help_keywords,
        }
        seen: dict[str, str] = {}
        for name, value in lists.items():
            for word in keyword_list(value):
                if word in seen and seen[word] != name:
                    raise ValueError(f"{word} is in both {seen[word]} and {name}")
                seen[word] = name
        return self

    @model_validator(mode="after")
    def _carrier_and_secrets(self) -> Settings:
        if self.carrier is None:
            has_credentials = self.vonage_api_key or self.vonage_application_id
            self.carrier = "vonage" if has_credentials else "sandbox"
        if self.carrier == "vonage":
            self._check_vonage_credentials()
        self._check_lease()
        if self.smsproxy_env != "development" and (
            self.secret_key is None or self.secret_key.strip().lower() in PLACEHOLDER_SECRETS
        ):
            raise ValueError(
                "SECRET_KEY is missing or a placeholder: set it to a long random string "
                "(`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return self

    def _check_lease(self) -> None:
        # A lease that ends while its send still waits for the carrier lets another
        # process claim the row and send it again: a duplicate SMS. The longest wait is
        # a retry's (PATIENT_SEND_FACTOR times the timeout); a claimed row never waits
        # for another send first (workers/sender.py).
        needed = PATIENT_SEND_FACTOR * math.ceil(self.vonage_timeout_seconds) + LEASE_MARGIN_SECONDS
        if self.send_lease_seconds < needed:
            raise ValueError(
                f"SEND_LEASE_SECONDS ({self.send_lease_seconds}) must be at least {needed}: "
                f"{PATIENT_SEND_FACTOR} times VONAGE_TIMEOUT_SECONDS (the wait for a retried "
                f"send) plus {LEASE_MARGIN_SECONDS} s, or a slow send is claimed and sent again"
            )

    def _check_vonage_credentials(self) -> None:
        if self.vonage_api == "messages":
            needed = {
                "VONAGE_APPLICATION_ID": self.vonage_application_id,
                "VONAGE_PRIVATE_KEY": self.vonage_private_key,
            }
            why = "the id and private key of a Vonage application with the Messages capability"
        else:
            needed = {
                "VONAGE_API_KEY": self.vonage_api_key,
                "VONAGE_API_SECRET": self.vonage_api_secret,
            }
            why = "the account's API key and secret"
        missing = [name for name, value in needed.items() if not value]
        if missing:
            hint = (
                " (to send with VONAGE_APPLICATION_ID, set VONAGE_API=messages)"
                if self.vonage_api == "sms" and self.vonage_application_id
                else ""
            )
            raise ValueError(
                f"CARRIER=vonage with VONAGE_API={self.vonage_api} needs "
                f"{' and '.join(needed)} ({why}); missing: {', '.join(missing)}{hint}"
            )

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for other databases and in-memory SQLite."""
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split(":///", 1)[-1]
        if not path or path == ":memory:":
            return None
        return Path(path)


def keyword_list(value: str) -> list[str]:
    """ "STOP, stop all ,QUIT" -> ["STOP", "STOPALL", "QUIT"]: keywords are matched with
    case and whitespace ignored, so that is how they are kept."""
    words = ("".join(word.split()).upper() for word in value.split(","))
    return list(dict.fromkeys(word for word in words if word))


def private_key_pem(value: str) -> str:
    """VONAGE_PRIVATE_KEY as PKCS#8 PEM text, from the key file's path or the PEM itself.

    Vonage's dashboard hands out a PKCS#8 `private.key`; keys converted to PKCS#1 ("BEGIN
    RSA PRIVATE KEY") work too, and so does PEM text whose line breaks were written as
    `\\n` (as some hosting dashboards store multi-line values). The SDK takes only PKCS#8
    text, hence the conversion.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = value.strip()
    if "-----BEGIN" in text:
        data, source = text.replace("\\n", "\n").encode(), "the PEM text given"
    else:
        path = Path(text).expanduser()
        source = f"the file {str(path)!r}"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ValueError(
                f"there is no file {str(path)!r}: give the path of the Vonage application's "
                "private key file (private.key) or the PEM text itself"
            ) from None
        except OSError as error:
            raise ValueError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(
            f"{source} is a private key protected by a passphrase; Vonage's keys have none"
        ) from None
    except ValueError:
        raise ValueError(
            f"{source} is not a PEM private key (-----BEGIN PRIVATE KEY----- ...): use the "
            "private.key that Vonage generated for the application"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(
            f"{source} is not an RSA key; Vonage signs application JWTs with RS256, which "
            "needs the RSA key Vonage generated for the application"
        )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# Settings whose value must never be echoed back in an error (it may be a key's PEM).
_HIDDEN_INPUTS = frozenset({"vonage_private_key"})


def _format_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        message = item["msg"].removeprefix("Value error, ")
        if name == "settings" or not item["loc"]:
            lines.append(message)
        elif item["loc"][0] in _HIDDEN_INPUTS:
            lines.append(f"{name}: {message}")
        else:
            lines.append(f"{name}: {message} (got {item.get('input')!r})")
    return lines


def load_settings(**overrides: object) -> Settings:
    """Read settings, raising ConfigError with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_format_errors(error)) from None


def ensure_secret_key() -> Path | None:
    """For the embedded server: with no SECRET_KEY, keep a generated one beside SQLite.

    Sets SECRET_KEY in the environment from `<database>.secret` (created on first use) so
    sessions survive restarts. Returns that file, or None when SECRET_KEY is set or the
    database is not a SQLite file (production sets SECRET_KEY itself).
    """
    try:
        probe = Settings(smsproxy_env="development")
    except ValidationError as error:
        raise ConfigError(_format_errors(error)) from None
    path = probe.sqlite_path
    if probe.secret_key or path is None:
        return None
    key_file = path.with_name(path.name + ".secret")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48) + "\n")
        key_file.chmod(0o600)
    os.environ["SECRET_KEY"] = key_file.read_text().strip()
    return key_file
