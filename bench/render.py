"""Per-message cost of the sending libraries: template render, tracking, MIME build, DKIM sign.

    .venv/bin/python -m bench.render --renders 5000 --builds 5000 --signs 300

Uses a typical 3 KB order-confirmation template (a <style> block with an @media rule, a loop over
order lines, a few links). Each figure is the best of three runs on one core, in microseconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

from postroom.mime.build import OutgoingAttachment, OutgoingMessage, build_message
from postroom.mime.dkim import generate_key, sign_message
from postroom.send.templating import TemplateRenderer, TemplateSource
from postroom.send.tracking import Tracker

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Your order</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; color: #222; background: #f6f6f6; margin: 0 }
.wrap { max-width: 600px; margin: 0 auto; background: #fff; padding: 24px }
h1 { font-size: 22px; margin: 0 0 12px } p { line-height: 1.5; margin: 0 0 12px }
table.items { width: 100%; border-collapse: collapse } .items td { padding: 6px 0; border-bottom: 1px solid #eee }
.price { text-align: right; white-space: nowrap } .total td { font-weight: bold; border-top: 2px solid #222 }
a.button { display: inline-block; background: #0a66c2; color: #fff; padding: 10px 18px; text-decoration: none }
.footer { font-size: 12px; color: #888; padding-top: 24px }
@media (max-width: 480px) { .wrap { padding: 12px } h1 { font-size: 18px } }
</style></head>
<body><div class="wrap">
<h1>Thanks for your order, {{ customer.first_name }}!</h1>
<p>We have received order <b>#{{ order.number }}</b> placed on {{ order.date }}. We will let you know when it ships.
Your items will be sent to {{ customer.address.line1 }}, {{ customer.address.city }}.</p>
<table class="items">
{% for item in order["items"] %}<tr><td>{{ item.quantity }} &times; {{ item.name }}</td>
<td class="price">{{ "%.2f"|format(item.price) }} {{ order.currency }}</td></tr>
{% endfor %}<tr class="total"><td>Total</td>
<td class="price">{{ "%.2f"|format(order.total) }} {{ order.currency }}</td></tr>
</table>
<p><a class="button" href="https://shop.example.com/orders/{{ order.number }}">View your order</a></p>
<p>Questions about your order? Reply to this email or visit our
<a href="https://shop.example.com/help">help centre</a>. You can also call us on
<a href="tel:+15550100">+1 555 0100</a>, Monday to Friday, 9am to 5pm.</p>
{% if order.gift %}<p>This order is a gift: we left the prices off the packing slip.</p>{% endif %}
<p>Recommended for you: <a href="https://shop.example.com/r/{{ customer.id }}">things people like you bought</a>.</p>
<div class="footer">Example Shop Ltd, 1 Market Street, Springfield. You receive this email because you placed an
order with us. <a href="https://shop.example.com/privacy">Privacy policy</a>.</div>
</div></body></html>
"""
TEXT = """Thanks for your order, {{ customer.first_name }}!

Order #{{ order.number }} ({{ order.date }}):
{% for item in order["items"] %}  {{ item.quantity }} x {{ item.name }}  {{ "%.2f"|format(item.price) }}
{% endfor %}Total: {{ "%.2f"|format(order.total) }} {{ order.currency }}

View your order: https://shop.example.com/orders/{{ order.number }}
"""


def variables(index: int) -> dict[str, object]:
    items = [{"name": f"Product number {n}", "quantity": n % 3 + 1, "price": 9.99 + n} for n in range(5)]
    return {
        "customer": {
            "id": f"c{index}",
            "first_name": "Ann",
            "address": {"line1": f"{index} Elm Street", "city": "Springfield"},
        },
        "order": {
            "number": 100000 + index,
            "date": "1 December 2026",
            "items": items,
            "total": sum(float(i["price"]) * int(i["quantity"]) for i in items),  # type: ignore[call-overload]
            "currency": "EUR",
            "gift": index % 2 == 0,
        },
    }


def best_us(action: Callable[[int], object], count: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for index in range(count):
            action(index)
        best = min(best, (time.perf_counter() - start) / count)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=5000)
    parser.add_argument("--builds", type=int, default=5000)
    parser.add_argument("--signs", type=int, default=300)
    args = parser.parse_args()

    renderer = TemplateRenderer()
    with_text = renderer.compile("order", 1, TemplateSource(subject="Order #{{ order.number }}", html=HTML, text=TEXT))
    html_only = renderer.compile("order", 2, TemplateSource(subject="Order #{{ order.number }}", html=HTML))
    plain = HTML.split("<style>")[0] + HTML.split("</style>")[1]
    no_css = renderer.compile("order", 3, TemplateSource(subject="Order #{{ order.number }}", html=plain, text=TEXT))
    sample = [variables(i) for i in range(100)]
    rendered = with_text.render(sample[0])
    print(f"template: {len(HTML)} chars of HTML source, {len(rendered.html or '')} rendered")

    rows: list[tuple[str, float]] = [
        ("render html+text (css inlined)", best_us(lambda i: with_text.render(sample[i % 100]), args.renders)),
        ("render html, text from html", best_us(lambda i: html_only.render(sample[i % 100]), args.renders)),
        ("render html+text, no <style>", best_us(lambda i: no_css.render(sample[i % 100]), args.renders)),
    ]
    tracker = Tracker([b"k" * 32], "https://t.example.com")
    html = rendered.html or ""
    rows.append(
        ("tracking: rewrite links + pixel", best_us(lambda i: tracker.rewrite_html(html, f"r{i}"), args.renders))
    )

    message = OutgoingMessage(
        sender="Example Shop <orders@shop.example.com>",
        to=["Ann Smith <ann@example.org>"],
        subject=rendered.subject,
        text=rendered.text,
        html=html,
        list_unsubscribe=tracker.unsubscribe_urls("r1", "unsubscribe@shop.example.com"),
        list_unsubscribe_post=True,
    )
    pdf = OutgoingAttachment("invoice.pdf", "application/pdf", bytes(range(256)) * 400)
    with_pdf = replace(message, attachments=[pdf])
    rows.append(("build: text+html", best_us(lambda i: build_message(message), args.builds)))
    rows.append(("build: text+html+100KB pdf", best_us(lambda i: build_message(with_pdf), args.builds)))

    raw = build_message(message).raw
    rsa = generate_key("shop.example.com", "rsa1")
    ed = generate_key("shop.example.com", "ed1", "ed25519")
    rows.append(("dkim sign rsa-2048", best_us(lambda i: sign_message(raw, rsa), args.signs)))
    rows.append(("dkim sign ed25519", best_us(lambda i: sign_message(raw, ed), args.signs)))

    def pipeline(index: int) -> bytes:
        content = with_text.render(sample[index % 100])
        body = tracker.rewrite_html(content.html or "", f"r{index}")
        built = build_message(replace(message, subject=content.subject, text=content.text, html=body))
        return sign_message(built.raw, ed)

    rows.append(("pipeline: render+track+build+ed25519", best_us(pipeline, args.signs)))
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:9.1f} us   {1e6 / micros:9.0f} /s")


if __name__ == "__main__":
    main()
