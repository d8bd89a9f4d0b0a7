"""DKIM per sending domain, DNS record checks, tracked links and one-click unsubscribe, end to end."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import dkim  # type: ignore[import-untyped]
import httpx
import pytest
from tests.fakes.dns_server import DnsServer, txt
from tests.integration.conftest import LiveFactory, LiveServer
from tests.integration.send.test_send_api import wait_for_status

from postroom.auth.roles import Role


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    async with DnsServer({}) as server:
        yield server


async def test_dkim_keys_sign_mail_and_rotate(live_factory: LiveFactory, dns: DnsServer) -> None:
    live = await live_factory(dns_servers=["127.0.0.1"], dns_port=dns.port, spf_include="spf.postroom.test")
    async with live.client(await live.api_key(Role.ADMIN)) as client:
        added = await client.post("/api/v1/sending/domains", json={"domain": "Shop.Example.test"})
        assert added.status_code == 201, added.text
        key = added.json()["keys"][0]
        assert key["active"] and key["dns"]["name"].endswith("._domainkey.shop.example.test")
        assert key["dns"]["value"].startswith("v=DKIM1; k=rsa; p=")

        report = (await client.get("/api/v1/sending/domains/shop.example.test/check")).json()
        assert report["ok"] is False
        assert {r["kind"]: r["status"] for r in report["records"]} == {
            "spf": "missing",
            "dkim": "missing",
            "dmarc": "missing",
        }
        expected = {r["kind"]: r for r in report["records"]}
        dns.load(
            {
                "shop.example.test": {"TXT": [txt(expected["spf"]["expected"])]},
                expected["dkim"]["name"]: {"TXT": [txt(key["dns"]["value"])]},
                expected["dmarc"]["name"]: {"TXT": [txt(expected["dmarc"]["expected"])]},
            }
        )
        report = (await client.get("/api/v1/sending/domains/shop.example.test/check")).json()
        assert report["ok"] is True, report

        published = {key["dns"]["name"] + ".": key["dns"]["value"].encode()}

        def lookup(name: bytes, timeout: int = 5) -> bytes | None:
            return published.get(name.decode())

        await client.post(
            "/api/v1/emails",
            json={
                "from": "Shop <news@shop.example.test>",
                "to": "ann@example.test",
                "subject": "Signed 1",
                "text": "hi",
            },
        )
        raw = await wait_raw(client, "Signed 1")
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=lookup)
        assert not dkim.verify(raw.replace(b"hi", b"ho"), dnsfunc=lookup)

        rotated = (
            await client.post("/api/v1/sending/domains/shop.example.test/rotate", json={"algorithm": "ed25519"})
        ).json()
        new_key, old_key = rotated["keys"]
        assert new_key["active"] and not old_key["active"] and new_key["selector"] != old_key["selector"]
        assert new_key["dns"]["value"].startswith("v=DKIM1; k=ed25519; p=")
        published[new_key["dns"]["name"] + "."] = new_key["dns"]["value"].encode()
        await client.post(
            "/api/v1/emails",
            json={"from": "news@shop.example.test", "to": "ann@example.test", "subject": "Signed 2", "text": "hi"},
        )
        raw = await wait_raw(client, "Signed 2")
        unfolded = re.sub(rb"\s+", b"", raw.split(b"\r\n\r\n")[0])
        assert f"s={new_key['selector']};".encode() in unfolded
        assert dkim.verify(raw, dnsfunc=lookup)

        async with live.client(await live.api_key(Role.DEVELOPER)) as developer:
            assert (await developer.post("/api/v1/sending/domains", json={"domain": "x.test"})).status_code == 403


async def wait_raw(client: httpx.AsyncClient, subject: str) -> bytes:
    for _ in range(200):
        inbox = (await client.get("/api/v1/messages", params={"query": f'subject:"{subject}"'})).json()
        if inbox["total"]:
            return (await client.get(f"/api/v1/messages/{inbox['items'][0]['id']}/raw")).content
        await asyncio.sleep(0.05)
    raise AssertionError(f"{subject!r} never arrived")


async def test_tracked_links_open_pixel_and_one_click_unsubscribe(live: LiveServer) -> None:
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        sent = (
            await client.post(
                "/api/v1/emails",
                json={
                    "from": "news@example.test",
                    "to": "reader@example.test",
                    "subject": "Tracked",
                    "html": '<p><a href="https://shop.example.test/sale?x=1&amp;y=2">Sale</a> '
                    '<a href="mailto:help@example.test">help</a></p>',
                    "track_opens": True,
                    "track_clicks": True,
                    "list_unsubscribe": True,
                },
            )
        ).json()
        await wait_for_status(client, sent["id"], {"delivered"})
        raw = await wait_raw(client, "Tracked")
        message = (await client.get("/api/v1/messages", params={"query": "subject:Tracked"})).json()["items"][0]
        html = (await client.get(f"/api/v1/messages/{message['id']}")).json()["html"]
        click = re.search(r'href="([^"]*/t/c/[^"]+)"', html)
        pixel = re.search(r'src="([^"]*/t/o/[^"]+)"', html)
        assert click and pixel and "mailto:help@example.test" in html
        headers = raw.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").decode()
        unsubscribe = re.search(r"List-Unsubscribe: <([^>]+)>", headers)
        assert unsubscribe

        def local(url: str) -> str:
            return url.replace("&amp;", "&").split("://", 1)[1].split("/", 1)[1]

        async with httpx.AsyncClient(base_url=live.base_url) as browser:
            opened = await browser.get("/" + local(pixel.group(1)))
            assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
            followed = await browser.get("/" + local(click.group(1)))
            assert followed.status_code == 302
            assert followed.headers["location"] == "https://shop.example.test/sale?x=1&y=2"
            token_path = local(click.group(1)).split("?")[0]
            elsewhere = await browser.get("/" + token_path, params={"url": "https://evil.example.test/"})
            assert elsewhere.status_code == 404 and "location" not in elsewhere.headers  # no open redirect

            page = await browser.get("/" + local(unsubscribe.group(1)))
            assert page.status_code == 200 and "<form" in page.text  # a GET only asks
            assert (await client.get("/api/v1/suppressions/reader@example.test")).status_code == 404
            one_click = await browser.post(
                "/" + local(unsubscribe.group(1)),
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert one_click.status_code == 200
            forged = await browser.post("/" + local(unsubscribe.group(1))[:-3] + "AAA")
            assert forged.status_code == 404

        assert (await client.get("/api/v1/suppressions/reader@example.test")).json()["reason"] == "unsubscribe"
        body = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        types = [e["type"] for e in body["recipients"][0]["events"]]
        assert types[-3:] == ["opened", "clicked", "unsubscribed"]
        assert body["recipients"][0]["events"][-2]["url"] == unquote("https://shop.example.test/sale?x=1&y=2")
