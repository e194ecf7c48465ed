"""CPU time to sign one Messages API request's JWT: the SDK's Auth against ours.

    python -m tests.benchmarks.messages_jwt [--count N]

Every SMS sent through the Messages API carries a fresh RS256 JWT. The SDK hands the
key's PEM text to PyJWT for each one, which loads and checks the RSA key every time;
ApplicationAuth loads it once. Prints milliseconds of CPU per token for both.
"""

from __future__ import annotations

import argparse
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from vonage import Auth

from smsproxy.carrier.vonage_messages import ApplicationAuth


def per_token_ms(auth: Auth, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        auth.create_jwt_auth_string()
    return (time.process_time() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    application_id = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
    sdk = per_token_ms(Auth(application_id=application_id, private_key=pem), args.count)
    ours = per_token_ms(ApplicationAuth(application_id, pem), args.count)
    print(f"JWT per request, {args.count} tokens, CPU time:")
    print(f"  SDK Auth (PEM loaded per token): {sdk:8.2f} ms")
    print(f"  ApplicationAuth (key loaded once): {ours:6.2f} ms")
    print(f"  at 30 SMS/s: {sdk * 30 / 1000:.2f} vs {ours * 30 / 1000:.3f} CPU seconds per second")


if __name__ == "__main__":
    main()
