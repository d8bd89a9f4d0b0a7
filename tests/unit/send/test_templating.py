"""Template rendering: escaping, the sandbox and its limits, errors, CSS inlining, text, caching."""

from __future__ import annotations

import pytest

from postroom.mime.text import html_to_text
from postroom.send.templating import (
    RenderLimits,
    TemplateError,
    TemplateLimitError,
    TemplateRenderer,
    TemplateRenderError,
    TemplateSecurityError,
    TemplateSource,
    TemplateSyntaxError,
    UndefinedVariableError,
)


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def _render(renderer: TemplateRenderer, template: str, variables: dict[str, object]) -> str:
    compiled = renderer.compile(f"t{hash(template)}", 1, TemplateSource(subject="", text=template))
    return compiled.render(variables).text


def test_html_is_escaped_while_subject_and_text_are_not(renderer: TemplateRenderer) -> None:
    source = TemplateSource(
        subject="Order for {{ name }}\r\nBcc: x@evil.example",
        html="<p>Hello {{ name }} {{ 'a' ~ name }}</p>",
        text="Hello {{ name }}",
    )
    content = renderer.render("welcome", 1, source, {"name": "<Tom & Jerry>"})
    assert content.html == "<p>Hello &lt;Tom &amp; Jerry&gt; a&lt;Tom &amp; Jerry&gt;</p>"
    assert content.text == "Hello <Tom & Jerry>"
    assert content.subject == "Order for <Tom & Jerry> Bcc: x@evil.example"  # folded to one line


def test_text_is_generated_from_html_when_missing(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="Hi", html='<h1>Hi {{ name }}</h1><p>See <a href="{{ url }}">your order</a></p>')
    content = renderer.render("t", 1, source, {"name": "Ann", "url": "https://shop.example/o/1"})
    assert content.text == "Hi Ann\n\nSee your order (https://shop.example/o/1)"
    assert content.text == html_to_text(content.html or "")


def test_css_is_inlined_and_media_queries_stay_in_a_style_block(renderer: TemplateRenderer) -> None:
    html = (
        "<html><head><style>p.note { color: #c00 } @media (max-width: 600px) { p.note { color: #00c } }</style>"
        '</head><body><p class="note">{{ message }}</p></body></html>'
    )
    content = renderer.render("css", 1, TemplateSource(subject="s", html=html), {"message": "Careful"})
    assert content.html is not None
    assert '<p class="note" style="color: #c00;">Careful</p>' in content.html
    assert "@media (max-width: 600px)" in content.html
    assert "<style>" in content.html


def test_remote_stylesheets_are_not_fetched(renderer: TemplateRenderer) -> None:
    html = '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head><body><p>x</p></body></html>'
    try:
        content = renderer.render("link", 1, TemplateSource(subject="s", html=html), {})
    except TemplateRenderError as exc:
        assert exc.part == "html"
    else:
        assert "<p>x</p>" in (content.html or "")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__dict__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ 'x'|attr('__class__') }}",
        "{{ '{0.__class__.__mro__}'.format('') }}",
        "{{ '{0.__init__.__globals__}'.format(cycler) }}",
        "{{ '{x.__class__}'.format_map({'x': 1}) }}",
        "{{ range.__self__ }}",
        "{{ {}.update(a=1) }}",
        "{{ [].append(1) }}",
    ],
)
def test_sandbox_escapes_fail_with_a_security_error(renderer: TemplateRenderer, template: str) -> None:
    with pytest.raises(TemplateSecurityError) as caught:
        _render(renderer, template, {})
    assert caught.value.part == "text"


@pytest.mark.parametrize(
    "template",
    [
        "{{ range(10**9)|list }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ [0] * 10**9 }}",
        "{{ 99 ** 999999 }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 999999999) }}",
        "{{ '%.999999999f'|format(1.0) }}",
        "{{ 'a'.center(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ 'a'|center(10**9) }}",
        "{{ ('a' * 1000)|indent(10**6, true) }}",
        "{{ [1]|batch(10**9, 'x')|list }}",
        "{{ [1]|slice(10**9)|list }}",
        "{{ ('a' * 100000)|replace('', 'b' * 100000) }}",
        "{{ ('a' * 1000).replace('', 'b' * 1000000) }}",
        "{{ {'a': 1}|tojson(indent=10**9) }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    ],
)
def test_templates_cannot_burn_cpu_or_memory(renderer: TemplateRenderer, template: str) -> None:
    with pytest.raises(TemplateLimitError):
        _render(renderer, template, {})


def test_rendered_size_is_capped() -> None:
    small = TemplateRenderer(RenderLimits(max_output_chars=1000))
    with pytest.raises(TemplateLimitError, match="exceeds 1000"):
        _render(small, "{% for i in range(100) %}{{ 'x' * 20 }}{% endfor %}", {})
    assert len(_render(small, "{% for i in range(40) %}{{ 'x' * 20 }}{% endfor %}", {})) == 800


def test_lipsum_is_not_available(renderer: TemplateRenderer) -> None:
    with pytest.raises(UndefinedVariableError):
        _render(renderer, "{{ lipsum(100000) }}", {})


def test_ordinary_template_features_still_work(renderer: TemplateRenderer) -> None:
    template = (
        "{% for item in items %}{{ loop.index }}. {{ item.name|title }} {{ '%.2f'|format(item.price) }}\n{% endfor %}"
        "{{ '{} of {}'.format(1, 2) }} {{ range(3)|sum }} {{ name|default('there') }} {{ 'a,b'.split(',')|join('+') }}"
        "{% if coupon is defined %} {{ coupon }}{% endif %}"
    )
    items = [{"name": "tea cup", "price": 3.5}, {"name": "pot", "price": 20}]
    assert _render(renderer, template, {"items": items}) == "1. Tea Cup 3.50\n2. Pot 20.00\n1 of 2 3 there a+b"


def test_undefined_variable_names_the_variable_and_line(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="Hi", html="<p>line one</p>\n<p>{{ first_name }}</p>")
    with pytest.raises(UndefinedVariableError) as caught:
        renderer.render("u", 1, source, {"name": "Ann"})
    assert caught.value.variable == "first_name"
    assert caught.value.part == "html"
    assert caught.value.line == 2
    assert "first_name" in str(caught.value)
    with pytest.raises(UndefinedVariableError) as attribute:
        _render(renderer, "{{ user.nickname }}", {"user": {"name": "Ann"}})
    assert attribute.value.variable == "nickname"


def test_syntax_errors_carry_the_line_number(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="ok", html="<p>one</p>\n<p>two</p>\n{% if x %}<p>never closed</p>")
    with pytest.raises(TemplateSyntaxError) as caught:
        renderer.compile("bad", 1, source)
    assert caught.value.part == "html"
    assert caught.value.line == 3
    with pytest.raises(TemplateSyntaxError) as subject:
        renderer.check(TemplateSource(subject="{{ }}", text="x"))
    assert subject.value.part == "subject"
    assert subject.value.line == 1


def test_runtime_errors_are_template_errors(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        _render(renderer, "ok\n{{ 1 / zero }}", {"zero": 0})
    assert caught.value.line == 2
    assert "division" in str(caught.value)
    with pytest.raises(TemplateError, match="html, text or both"):
        renderer.compile("empty", 1, TemplateSource(subject="s"))


def test_templates_are_compiled_once_per_id_and_version(renderer: TemplateRenderer) -> None:
    first = renderer.compile("w", 1, TemplateSource(subject="s", text="v1 {{ a }}"))
    again = renderer.compile("w", 1, TemplateSource(subject="s", text="ignored, same version"))
    newer = renderer.compile("w", 2, TemplateSource(subject="s", text="v2 {{ a }}"))
    assert again is first
    assert first.render({"a": 1}).text == "v1 1"
    assert newer.render({"a": 1}).text == "v2 1"
    assert first.variables == frozenset({"a"})


def test_cache_is_bounded() -> None:
    small = TemplateRenderer(cache_size=2)
    first = small.compile("a", 1, TemplateSource(subject="", text="a"))
    small.compile("b", 1, TemplateSource(subject="", text="b"))
    small.compile("c", 1, TemplateSource(subject="", text="c"))
    assert small.compile("a", 1, TemplateSource(subject="", text="a")) is not first


def test_preview_shows_missing_variables_as_placeholders(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="Hi {{ name }}", html="<p>{{ name }} owes {{ amount }}</p>")
    preview = renderer.preview(source, {"amount": "$5"})
    assert preview.content.subject == "Hi {{ name }}"
    assert preview.content.html == "<p>{{ name }} owes $5</p>"
    assert preview.missing == ("name",)
    with pytest.raises(TemplateSecurityError):
        renderer.preview(TemplateSource(subject="", text="{{ ''.__class__ }}"))


def test_many_renders_of_one_compiled_template_are_independent(renderer: TemplateRenderer) -> None:
    compiled = renderer.compile("batch", 1, TemplateSource(subject="Hi {{ n }}", html="<b>{{ n }}</b>"))
    results = [compiled.render({"n": i}) for i in range(50)]
    assert [r.subject for r in results] == [f"Hi {i}" for i in range(50)]
    assert results[7].html == "<b>7</b>"
    assert results[7].text == "7"


ORDER_HTML = """<html><head><style>
td { padding: 4px } .price { text-align: right } a.button { color: #fff; background: #06c }
@media (max-width: 480px) { td { padding: 2px } }
</style></head><body>
<h1>Thanks, {{ name }}!</h1>
<table>
{% for item in items %}<tr><td>{{ item.name }}</td><td class="price">{{ "%.2f"|format(item.price) }}</td></tr>
{% endfor %}</table>
{% if gift %}<p>This is a gift.</p>{% endif %}
<p><a class="button" href="https://shop.example/o/{{ number }}">View order {{ number }}</a></p>
</body></html>"""
ORDER_VARS = {
    "name": "Ann",
    "items": [{"name": "Cup", "price": 3.5}, {"name": "Pot", "price": 20}],
    "gift": True,
    "number": 42,
}


def test_compile_time_css_and_text_give_the_same_message_as_per_render_work(renderer: TemplateRenderer) -> None:
    compiled = renderer.compile("order", 1, TemplateSource(subject="s", html=ORDER_HTML))
    assert compiled.precomputed == {"css", "text"}
    fast = compiled.render(ORDER_VARS)
    # The same markup rendered without HTML handling, then inlined and converted afterwards.
    plain = renderer.render("order-plain", 1, TemplateSource(subject="s", text=ORDER_HTML), ORDER_VARS).text
    slow_html = renderer.inline_css(plain)
    assert fast.html is not None
    assert fast.html == slow_html.replace("<tbody>", "").replace("</tbody>", "")
    assert fast.html.count('<td style="padding: 4px;">') == 2  # the rule reached every row of the loop
    assert "@media (max-width: 480px)" in fast.html
    assert fast.text == html_to_text(fast.html)
    assert "Cup 3.50\nPot 20.00" in fast.text
    assert "View order 42 (https://shop.example/o/42)" in fast.text


def test_css_that_depends_on_variables_is_inlined_after_rendering(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="s", html="<style>p { color: {{ color }} }</style><p>x</p>")
    compiled = renderer.compile("dyn-css", 1, source)
    assert "css" not in compiled.precomputed
    content = compiled.render({"color": "red"})
    assert '<p style="color: red;">x</p>' in (content.html or "")


def test_markup_from_variables_gets_styles_and_becomes_text(renderer: TemplateRenderer) -> None:
    source = TemplateSource(subject="s", html="<style>.hl { color: red }</style><div>{{ body|safe }}</div>")
    content = renderer.render("safe", 1, source, {"body": '<ul><li class="hl">one</li><li>two</li></ul>'})
    assert '<li class="hl" style="color: red;">one</li>' in (content.html or "")
    assert content.text == "- one\n- two"
    plain = TemplateSource(subject="s", html="<p>Hi {{ name }}</p>{{ body|safe }}")
    text = renderer.render("safe-text", 1, plain, {"name": "<Al>", "body": "<ul><li>a</li><li>b</li></ul>"}).text
    assert text == "Hi <Al>\n\n- a\n- b"


def test_template_tags_inside_attributes_still_give_the_right_text(renderer: TemplateRenderer) -> None:
    html = '<p class="{% if vip %}vip{% endif %}">Hello {{ name }}</p><p style="color: {{ c }}">{{ note }}</p>'
    for vip in (True, False):
        content = renderer.render(
            "attr", 1, TemplateSource(subject="s", html=html), {"vip": vip, "name": "Bo", "c": "red", "note": "n"}
        )
        assert content.text == html_to_text(content.html or "") == "Hello Bo\n\nn"
