"""Realistic messages an app under test sends, for the browser tests and the screenshots."""

from __future__ import annotations

import base64
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

# A 2x2 PNG, small enough to inline, real enough to preview.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDK+mmyAAAAABJRU5ErkJggg=="
)


def message(
    subject: str,
    *,
    sender: str = "Acme Shop <no-reply@acme.test>",
    to: str = "Dana Developer <dana@example.com>",
    text: str = "",
    html: str = "",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="acme.test")
    msg.set_content(text or "See the HTML version of this message.")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def welcome(name: str = "Dana") -> EmailMessage:
    return message(
        f"Welcome to Acme, {name}!",
        text=f"Hi {name},\n\nThanks for signing up. Confirm your address: https://acme.test/confirm?t=8f2c\n",
        html=f"""<html><body style="font-family: Arial, sans-serif; background: #f4f6fb; padding: 24px">
<table role="presentation" width="100%" style="max-width: 560px; margin: auto; background: #fff; border-radius: 8px">
<tr><td style="padding: 32px">
<h1 style="color: #1f3a93; margin-top: 0">Welcome aboard, {name}!</h1>
<p style="font-size: 16px; line-height: 1.5">Thanks for signing up for Acme. Confirm your email address
to start your 14-day trial.</p>
<p><a href="https://acme.test/confirm?t=8f2c" style="display: inline-block; background: #1f3a93; color: #fff;
padding: 12px 20px; border-radius: 6px; text-decoration: none">Confirm my address</a></p>
<p style="color: #667; font-size: 13px">Didn't sign up? <a href="https://acme.test/unsubscribe">Tell us</a>.</p>
</td></tr></table></body></html>""",
    )


def password_reset() -> EmailMessage:
    return message(
        "Reset your password",
        sender="Acme Security <security@acme.test>",
        text="Someone asked to reset your password. Use this link within 30 minutes:\n"
        "https://acme.test/reset?token=4e1d\n",
        html="""<html><body style="font-family: Helvetica, sans-serif; padding: 24px">
<h2>Reset your password</h2><p>Use the button below within 30 minutes.</p>
<p><a href="https://acme.test/reset?token=4e1d" style="background:#c0392b;color:#fff;padding:10px 16px;
border-radius:4px;text-decoration:none">Choose a new password</a></p>
<img src="https://tracker.acme.test/open.gif?u=42" width="1" height="1" alt=""></body></html>""",
    )


def invoice() -> EmailMessage:
    msg = message(
        "Your invoice INV-2026-0042",
        sender="Acme Billing <billing@acme.test>",
        text="Hello Dana,\n\nYour invoice for November is attached. Total: $49.00.\n\nAcme Billing\n",
        html="""<html><body style="font-family: Georgia, serif; padding: 24px">
<h2>Invoice INV-2026-0042</h2>
<table cellpadding="6" style="border-collapse: collapse; border: 1px solid #ccc">
<tr><th align="left">Plan</th><th align="right">Amount</th></tr>
<tr><td>Team, November</td><td align="right">$49.00</td></tr></table>
<p>The receipt is attached. <a href="https://acme.test/billing">Manage billing</a></p></body></html>""",
    )
    msg.add_attachment(b"%PDF-1.4\n% invoice\n", maintype="application", subtype="pdf", filename="INV-2026-0042.pdf")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="logo.png")
    return msg


def weekly_digest() -> EmailMessage:
    return message(
        "Your weekly digest: 12 new comments",
        sender="Acme Community <digest@acme.test>",
        to="dana@example.com, team@example.com",
        text="12 new comments this week.\nhttps://acme.test/community\n",
        html="""<html><body style="font-family: Arial, sans-serif">
<h2 style="color:#16a085">This week on Acme Community</h2>
<img src="https://cdn.acme.test/banner.png" alt="Banner" width="560">
<ul><li><a href="https://acme.test/c/1">Deploying on Fridays</a> (5 comments)</li>
<li><a href="https://acme.test/c/2">SMTP retries explained</a> (7 comments)</li></ul></body></html>""",
    )


def hostile(marker_url: str) -> EmailMessage:
    """HTML that tries every way to run code or move the reader elsewhere."""
    return message(
        "Hostile HTML",
        sender="Mallory <mallory@evil.test>",
        html=f"""<html><head>
<meta http-equiv="refresh" content="0;url={marker_url}?via=meta">
<script>parent.postMessage("script-ran", "*"); fetch("{marker_url}?via=script");</script>
</head><body onload="parent.postMessage('onload-ran', '*')">
<p>Nothing to see.</p>
<img src="x" onerror="parent.postMessage('onerror-ran', '*'); fetch('{marker_url}?via=onerror')">
<a id="js-link" href="javascript:parent.postMessage('link-ran','*')">click me</a>
<svg><script>parent.postMessage("svg-ran", "*")</script></svg>
<iframe src="javascript:parent.parent.postMessage('frame-ran','*')"></iframe>
</body></html>""",
    )


def send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def realistic_inbox() -> list[EmailMessage]:
    return [weekly_digest(), invoice(), password_reset(), welcome("Dana"), welcome("Sam")]
