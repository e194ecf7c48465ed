"""How heavy the sandbox page is with many simulated phones.

    python -m tests.benchmarks.sandbox_page [--phones 611] [--sms 3] [--rounds 5]

Seeds a fresh SQLite database with chats of two people (one phone each) and a few SMS
on every phone, then asks the app (its test client, no network) for GET /sandbox and
for the fragment the page's script refreshes from (GET /sandbox/phones), and prints
each one's size in bytes, its number of HTML elements and the median time to render it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

from smsproxy.app import create_app
from smsproxy.carrier.sandbox import new_sandbox_message_id
from smsproxy.migrate import upgrade
from smsproxy.models import SandboxSms
from smsproxy.runtime import Runtime
from tests.conftest import logged_in_client, make_settings
from tests.helpers import add_numbers, start_chat

PROXIES = ("+447700900990", "+447700900991", "+447700900992", "+447700900993")
ELEMENT = re.compile(r"<[a-zA-Z]")


async def seed(rt: Runtime, phones: int, sms_each: int) -> None:
    await add_numbers(rt, *PROXIES)
    for pair in range((phones + 1) // 2):
        a, b = f"+4477008{2 * pair:05d}", f"+4477008{2 * pair + 1:05d}"
        view = await start_chat(rt, (a, f"Rider {pair}"), (b, f"Driver {pair}"))
        async with rt.db.transaction() as session:
            for person in view.participants:
                for n in range(sms_each):
                    session.add(
                        SandboxSms(
                            handset_number=person.real_number,
                            proxy_number=person.proxy_number,
                            direction="in" if n % 2 == 0 else "out",
                            body=f"Message {n} about booking {pair}: on my way, ten minutes.",
                            carrier_message_id=new_sandbox_message_id(),
                        )
                    )


async def main(phones: int, sms_each: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        app = create_app(make_settings(url), background=False)
        async with app.test_app():
            await seed(app.extensions["smsproxy"], phones, sms_each)
            client = await logged_in_client(app, "bench-admin", "admin")
            print(f"{phones} phones, {sms_each} SMS each")
            for path in ("/sandbox", "/sandbox/phones"):
                times, html = [], ""
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = await client.get(path)
                    html = await response.get_data(as_text=True)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.status_code
                size = len(html.encode())
                elements = len(ELEMENT.findall(html))
                median = statistics.median(times) * 1000
                print(
                    f"GET {path:<16} {size:>10,} bytes  {elements:>7,} elements  {median:8.1f} ms"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=611)
    parser.add_argument("--sms", type=int, default=3, help="SMS on each phone")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.phones, args.sms, args.rounds))
