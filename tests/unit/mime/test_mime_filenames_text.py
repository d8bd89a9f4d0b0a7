"""safe_filename and html_to_text."""

from __future__ import annotations

import time

import pytest

from postroom.mime import html_to_text, safe_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\TEMP\\nsmail39.png", "nsmail39.png"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1", "_LPT1"),
        ("a\x00b", "ab"),
        ("tab\there\nnewline", "tab here newline"),
        ("..", "attachment"),
        (".", "attachment"),
        ("", "attachment"),
        ("   ", "attachment"),
        (".bashrc", "bashrc"),
        ("trailing dots...", "trailing dots"),
        ("Grüße 日本語 résumé.docx", "Grüße 日本語 résumé.docx"),
        ('what?<>:"|*.txt', "what.txt"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("/", "attachment"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_fallback_and_length() -> None:
    assert safe_filename("..", fallback="part-3.bin") == "part-3.bin"
    assert safe_filename("", fallback="../x") == "x"
    assert safe_filename("", fallback="") == "attachment"
    long_name = "a" * 500 + ".pdf"
    shortened = safe_filename(long_name)
    assert len(shortened) == 200 and shortened.endswith(".pdf")
    assert len(safe_filename("b" * 500)) == 200


def test_html_to_text_structure() -> None:
    html = (
        "<div>Hello <b>there</b>,</div><div>line two<br>line three</div>"
        "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"
        "<p>para   with\nnewline</p><pre>  code\n    indented</pre>"
        '<a href="mailto:x@y.example">x@y.example</a> <img alt="logo" src="x.png">'
        '<a href="#top">top</a> <a href="javascript:void(0)">js</a> <a href="https://e.example/"></a>'
    )
    assert html_to_text(html) == (
        "Hello there,\nline two\nline three\n\na b\nc\n\npara with newline\n\n"
        "  code\n    indented\n\nx@y.example [logo]top js https://e.example/"
    )


def test_html_to_text_skips_invisible_content_and_decodes_entities() -> None:
    html = "<head><title>T</title><style>x{}</style></head><script>a<b</script>&lt;ok&gt; &amp; &eacute;&#233;"
    assert html_to_text(html) == "<ok> & éé"


def test_html_to_text_survives_junk_quickly() -> None:
    junk = "<a href=x>" * 20000 + "text" + "</a>" * 20000 + "<!--" * 5000 + "<" * 5000
    started = time.perf_counter()
    assert isinstance(html_to_text(junk), str)
    assert time.perf_counter() - started < 5
    assert html_to_text("") == ""
    assert html_to_text("<p>unclosed <b>tags") == "unclosed tags"
