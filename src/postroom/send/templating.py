"""Render message templates (subject, HTML, text) inside a locked-down Jinja2 sandbox.

How to call it::

    renderer = TemplateRenderer()
    source = TemplateSource(subject="Hi {{ name }}", html="<p>Hello {{ name }}</p>")
    compiled = renderer.compile("welcome", 3, source)  # compiled once, cached by (id, version)
    content = compiled.render({"name": "Ann"})  # RenderedContent(subject, html, text)
    renderer.preview(source, {"name": "Ann"})  # sample render; missing variables show as {{ name }}

For a batch, compile once and call ``compiled.render`` per recipient: that is the fast path.

Choices:

* Undefined variables are errors (``StrictUndefined``): a message that says "Hello ," is worse
  than one not sent. ``{{ name | default("there") }}`` and ``{% if name is defined %}`` still work.
* HTML is autoescaped; subject and text are not (they are not HTML). The subject is folded to
  one line.
* The text part, when the template has none, comes from the HTML through ``html_to_text``.
* CSS from ``<style>`` blocks is inlined with css_inline; @media rules stay in a ``<style>``
  block; remote stylesheets are never fetched.
* Both of those are done once, at compile time, on the template source when that gives the same
  result; otherwise (CSS that uses variables, ``|safe`` markup, tags the HTML parser would move)
  on every render. ``CompiledTemplate.precomputed`` tells which happened.
* The sandbox is ``ImmutableSandboxedEnvironment`` plus limits (``RenderLimits``) on range(),
  loop iterations and calls, sizes of strings built by ``*``, ``+``, ``~``, ``%`` and the
  size-taking filters, format-string widths, and the rendered size of each part.

Errors (all ``TemplateError``, a ``ValueError``; ``.part`` names subject/html/text, ``.line``
is the template line when known)::

    TemplateError
    ├── TemplateSyntaxError      the template does not parse
    ├── UndefinedVariableError   ``.variable`` names what was missing
    ├── TemplateSecurityError    the template reached for something the sandbox forbids
    ├── TemplateLimitError       output, loop, call or size limit exceeded
    └── TemplateRenderError      any other failure while rendering (e.g. division by zero)
"""

from __future__ import annotations

import contextvars
import re
import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import css_inline
import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import ChainableUndefined, Undefined, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_eval_context
from jinja2.visitor import NodeTransformer

from postroom.mime.text import html_to_text

__all__ = [
    "DEFAULT_RENDER_LIMITS",
    "PARTS",
    "CompiledTemplate",
    "Preview",
    "RenderLimits",
    "RenderedContent",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRenderError",
    "TemplateRenderer",
    "TemplateSecurityError",
    "TemplateSource",
    "TemplateSyntaxError",
    "UndefinedVariableError",
]

PARTS = ("subject", "html", "text")


class TemplateError(ValueError):
    """A template could not be compiled or rendered; the text says where and why."""

    def __init__(self, message: str, *, part: str | None = None, line: int | None = None) -> None:
        where = ""
        if part:
            where = f"{part}" + (f" line {line}" if line else "") + ": "
        super().__init__(f"{where}{message}")
        self.part = part
        self.line = line
        self.detail = message


class TemplateSyntaxError(TemplateError):
    """The template source does not parse."""


class UndefinedVariableError(TemplateError):
    """The template used a variable (or attribute) the render did not provide."""

    def __init__(self, variable: str, message: str, *, part: str | None = None, line: int | None = None) -> None:
        super().__init__(message, part=part, line=line)
        self.variable = variable


class TemplateSecurityError(TemplateError):
    """The template tried to reach an attribute or callable the sandbox forbids."""


class TemplateLimitError(TemplateError):
    """The template needed more output, iterations, calls or memory than its limits allow."""


class TemplateRenderError(TemplateError):
    """Rendering failed for another reason (a type error, division by zero, broken CSS...)."""


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """Per-render ceilings that keep a hostile or careless template cheap."""

    max_source_chars: int = 512_000  # per part
    max_output_chars: int = 1_000_000  # per rendered part, and per string built inside a template
    max_range: int = 10_000  # items in one range()
    max_steps: int = 200_000  # loop iterations plus calls, per render (all parts together)
    max_width: int = 1_000  # numbers in format specs and the width/count arguments of filters


DEFAULT_RENDER_LIMITS = RenderLimits()


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """The three parts of a template; at least one of ``html`` and ``text`` is required."""

    subject: str
    html: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedContent:
    subject: str
    html: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Preview:
    content: RenderedContent
    missing: tuple[str, ...]  # variables the template uses that the sample did not provide


# --- per-render step budget -------------------------------------------------------------------


class _Budget:
    __slots__ = ("remaining",)

    def __init__(self, steps: int) -> None:
        self.remaining = steps


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("postroom_template_budget", default=None)


def _charge(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.remaining -= steps
    if budget.remaining < 0:
        raise TemplateLimitError("too many loop iterations or calls")


# --- size checks --------------------------------------------------------------------------------

_SIZED = (str, bytes, list, tuple)
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")
_MAX_INT_BITS = 4096


def _check_printf(fmt: str, limits: RenderLimits) -> None:
    for match in _PRINTF_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*" or (number is not None and int(number) > limits.max_width):
                raise TemplateLimitError(f"format width or precision above {limits.max_width}")


def _check_format_spec(fmt: str, limits: RenderLimits) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise TemplateRenderError(f"bad format string: {exc}") from exc
    for _literal, _field, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("nested format specs are not allowed")
        if any(int(n) > limits.max_width for n in _NUMBER.findall(spec)):
            raise TemplateLimitError(f"format width or precision above {limits.max_width}")


def _check_width(value: object, limits: RenderLimits, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limits.max_width:
        raise TemplateLimitError(f"{what} above {limits.max_width}")


def _check_size(size: int, limits: RenderLimits) -> None:
    if size > limits.max_output_chars:
        raise TemplateLimitError(f"a value would exceed {limits.max_output_chars} characters")


def _replace_size(text: str, old: str, new: str, count: object) -> int:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


# --- the environment ----------------------------------------------------------------------------


class _Guard(NodeTransformer):
    """Route every for-loop iterable and every ``~`` through the environment's budget checks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("postroom_iter"), [node.iter], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.EnvironmentAttribute("postroom_concat"), list(node.nodes), [], None, None, lineno=node.lineno
        )


class _PreviewUndefined(ChainableUndefined):
    """Renders a missing variable as ``{{ name }}`` so a preview shows where it goes.

    Sandbox refusals still raise: only genuinely missing variables become placeholders.
    """

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is not jinja2.UndefinedError:
            self._fail_with_undefined_error()
        return "{{ " + str(self._undefined_name) + " }}"


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, limits: RenderLimits, undefined: type[Undefined]) -> None:
        super().__init__(
            undefined=undefined,
            autoescape=lambda name: name == "html",
            auto_reload=False,
            cache_size=0,
            keep_trailing_newline=True,
        )
        self.limits = limits
        self.globals.pop("lipsum", None)
        self.filters["postroom_html_text"] = _html_as_text
        self.globals["range"] = self._range
        for name, check in (
            ("center", self._width_args),
            ("batch", self._width_args),
            ("slice", self._width_args),
            ("tojson", self._width_args),
            ("indent", self._indent_args),
            ("format", self._format_args),
            ("replace", self._replace_args),
        ):
            self.filters[name] = _checked_filter(self.filters[name], check)

    # Checks for filters; ``args`` starts with the filtered value.
    def _width_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for value in (*args[1:], *kwargs.values()):
            _check_width(value, self.limits, "filter argument")

    def _indent_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_size(len(str(args[0])) + per_line * (str(args[0]).count("\n") + 1), self.limits)

    def _format_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _check_printf(str(args[0]), self.limits)

    def _replace_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        values = [*args, *kwargs.values()]
        if len(values) >= 3:
            count = values[3] if len(values) > 3 else None
            _check_size(_replace_size(str(values[0]), str(values[1]), str(values[2]), count), self.limits)

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > self.limits.max_range:
            raise TemplateLimitError(f"range() of {len(numbers)} items; the limit is {self.limits.max_range}")
        return numbers

    def postroom_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _charge()
            yield item

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        limits = self.limits
        both_ints = isinstance(left, int) and isinstance(right, int)
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if isinstance(sized, _SIZED) and isinstance(times, int):
                    _check_size(len(sized) * times, limits)
            if both_ints and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                raise TemplateLimitError("integer too large")
        elif operator == "**":
            if both_ints and right > 0 and max(1, left.bit_length()) * right > _MAX_INT_BITS:
                raise TemplateLimitError("integer too large")
        elif operator == "+":
            if isinstance(left, _SIZED) and isinstance(right, _SIZED):
                _check_size(len(left) + len(right), limits)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, limits)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, _SIZED):
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    _check_size(abs(value), __self.limits)
            if isinstance(owner, str) and getattr(__obj, "__name__", "") == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else kwargs.get("count")
                _check_size(_replace_size(owner, str(args[0]), str(args[1]), count), __self.limits)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_format_spec(str(value.__self__), self.limits)
        return wrapped

    @pass_eval_context
    def postroom_concat(self, eval_ctx: jinja2.nodes.EvalContext, *values: Any) -> str:
        joined: str = markup_join(values) if eval_ctx.autoescape else "".join(map(str, values))
        _check_size(len(joined), self.limits)
        return joined


def _checked_filter(
    original: Callable[..., Any], check: Callable[[tuple[Any, ...], dict[str, Any]], None]
) -> Callable[..., Any]:
    pass_arg = getattr(original, "jinja_pass_arg", None)

    def checked(*args: Any, **kwargs: Any) -> Any:
        check(args[1:] if pass_arg is not None else args, kwargs)
        return original(*args, **kwargs)

    if pass_arg is not None:
        checked.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return checked


# --- compiling and rendering --------------------------------------------------------------------

_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']*)' is undefined$|has no (?:attribute|element) '?(?P<attr>[^']*)'?$")


def _template_line(tb: TracebackType | None, part: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == f"<{part}>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _translate(exc: Exception, part: str) -> TemplateError:
    line = _template_line(exc.__traceback__, part)
    if isinstance(exc, TemplateError):
        return type(exc)(exc.detail, part=part, line=line)
    if isinstance(exc, SecurityError):
        return TemplateSecurityError(str(exc), part=part, line=line)
    if isinstance(exc, jinja2.UndefinedError):
        message = str(exc)
        match = _UNDEFINED_NAME.search(message)
        variable = (match.group("name") or match.group("attr")) if match else message
        return UndefinedVariableError(variable, f"undefined variable {variable!r} ({message})", part=part, line=line)
    if isinstance(exc, RecursionError | MemoryError | OverflowError):
        return TemplateLimitError(f"{type(exc).__name__}: {exc}", part=part, line=line)
    return TemplateRenderError(f"{type(exc).__name__}: {exc}", part=part, line=line)


def _compile_part(env: _Environment, part: str, source: str) -> tuple[jinja2.Template, nodes.Template]:
    if len(source) > env.limits.max_source_chars:
        raise TemplateLimitError(f"template longer than {env.limits.max_source_chars} characters", part=part)
    try:
        tree = env.parse(source, name=part, filename=f"<{part}>")
        tree = _Guard().visit(tree)
        code = env.compile(tree, name=part, filename=f"<{part}>")
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(exc.message or str(exc), part=part, line=exc.lineno) from None
    return env.template_class.from_code(env, code, env.make_globals(None), None), tree


def _has_stylesheet(html: str) -> bool:
    lowered = html.lower()
    return "<style" in lowered or "<link" in lowered


# --- compile-time work on the HTML source ---------------------------------------------------------
#
# CSS inlining and the HTML-to-text conversion are the costly steps of a render. When it is safe,
# both are done once on the template source: every Jinja construct is swapped for an inert
# placeholder, the markup is processed, and the constructs are put back. When a placeholder does
# not come through intact (a tag inside a style block or an unquoted attribute, a block tag in a
# part the text conversion drops...), the template falls back to doing the work on every render.

_CSS_MARK = re.compile(r"<!--pr-tpl-(\d+)-->")
_ADDED_TBODY = re.compile(r"</?tbody>")
_TAG_OR_MARK = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)|<!--pr-tpl-(\d+)-->")
_WRAPPERS = frozenset({"html", "head", "body", "style", "link", "meta"})
_TEXT_MARK = re.compile(r"\x01(\d+)\x02")
_TEXT_MARK_LINE = re.compile(r"\x01(\d+)\x02(\n?)")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


@dataclass(frozen=True, slots=True)
class _Code:
    kind: str  # "variable", "block" or "comment"
    begin: str
    inner: str
    end: str

    @property
    def text(self) -> str:
        return self.begin + self.inner + self.end


def _segments(env: _Environment, source: str) -> list[str | _Code] | None:
    """The source as data strings and Jinja constructs; None when it has raw blocks."""
    out: list[str | _Code] = []
    begin = ""
    inner: list[str] = []
    try:
        for _line, token, value in env.lexer.tokeniter(source, None):
            if token == "raw_begin":
                return None
            if token == "data" and not begin:
                out.append(value)
            elif token.endswith("_begin"):
                begin, inner = value, []
            elif token.endswith("_end"):
                out.append(_Code(token.removesuffix("_end"), begin, "".join(inner), value))
                begin = ""
            else:
                inner.append(value)
    except jinja2.TemplateSyntaxError:
        return None
    return None if begin else out


def _marks_safe_markup(tree: nodes.Template) -> bool:
    """True when the template outputs markup it did not escape (``|safe``, autoescape blocks)."""
    if any(node.name == "safe" for node in tree.find_all(nodes.Filter)):
        return True
    return tree.find(nodes.ScopedEvalContextModifier) is not None or tree.find(nodes.MarkSafe) is not None


def _preinline_css(env: _Environment, source: str, inline: Callable[[str], str]) -> str | None:
    segments = _segments(env, source)
    if segments is None:
        return None
    codes: list[_Code] = []
    marked: list[str] = []
    for segment in segments:
        if isinstance(segment, str):
            marked.append(segment)
        else:
            marked.append(f"<!--pr-tpl-{len(codes)}-->")
            codes.append(segment)
    before = "".join(marked)
    try:
        inlined = inline(before)
    except TemplateError:
        return None
    if "<tbody" not in before.lower():
        # The parser adds <tbody>, which would then sit inside a loop over rows: take it out again.
        inlined = _ADDED_TBODY.sub("", inlined)
    if [int(m.group(1)) for m in _CSS_MARK.finditer(inlined)] != list(range(len(codes))):
        return None
    if _tag_sequence(inlined) != _tag_sequence(before):
        return None  # the parser moved or closed elements around the template's tags
    return _CSS_MARK.sub(lambda m: codes[int(m.group(1))].text, inlined)


def _tag_sequence(html: str) -> list[str]:
    """Element and mark order, leaving out what inlining adds or moves (document wrappers, styles)."""
    return [
        f"#{mark}" if mark else f"{slash}{name.lower()}"
        for slash, name, mark in _TAG_OR_MARK.findall(html)
        if mark or name.lower() not in _WRAPPERS
    ]


def _html_as_text(value: Any) -> Any:
    """Filter used by derived text templates: markup a variable brought in is converted to text."""
    return html_to_text(str(value)) if hasattr(value, "__html__") else value


def _derive_text(env: _Environment, html: str) -> str | None:
    segments = _segments(env, html)
    if segments is None:
        return None
    codes: list[_Code] = []
    numbers: dict[str, int] = {}  # identical output expressions share a mark, as their values would
    marked: list[str] = []
    for segment in segments:
        if isinstance(segment, str):
            marked.append(segment)
            continue
        key = segment.text if segment.kind == "variable" else f"{len(codes)}:{segment.text}"
        if key not in numbers:
            numbers[key] = len(codes)
            codes.append(segment)
        marked.append(f"\x01{numbers[key]}\x02")
    converted = html_to_text("".join(marked))
    found = [int(m.group(1)) for m in _TEXT_MARK.finditer(converted)]
    blocks = [n for n, code in enumerate(codes) if code.kind == "block"]
    if [n for n in found if codes[n].kind == "block"] != blocks:
        return None  # a block tag was dropped with its surroundings (head, style, an attribute)

    def restore(match: re.Match[str]) -> str:
        code = codes[int(match.group(1))]
        if code.kind != "variable":
            return code.text  # the newline after a block tag is dropped, as trim_blocks would
        return f"{code.begin} ({code.inner})|postroom_html_text {code.end}{match.group(2)}"

    return _TEXT_MARK_LINE.sub(restore, converted)


def _tidy_text(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


class CompiledTemplate:
    """A template compiled once; ``render`` is cheap and safe to call from many threads."""

    def __init__(self, renderer: TemplateRenderer, env: _Environment, source: TemplateSource) -> None:
        if source.html is None and source.text is None:
            raise TemplateError("a template needs html, text or both")
        self._renderer = renderer
        self._limits = env.limits
        self._parts: dict[str, jinja2.Template] = {}
        trees: dict[str, nodes.Template] = {}
        for part in PARTS:
            text = getattr(source, part)
            if text is not None:
                self._parts[part], trees[part] = _compile_part(env, part, text)
        declared: set[str] = set()
        for tree in trees.values():
            declared |= meta.find_undeclared_variables(tree)
        self.variables: frozenset[str] = frozenset(declared - set(env.globals))
        self._inline_css = False  # inline after each render
        self._derived_text = False  # text part compiled from the HTML source
        self.precomputed: frozenset[str] = frozenset()  # "css" and/or "text" when done at compile time
        if source.html is None:
            return
        safe_markup = _marks_safe_markup(trees["html"])
        if _has_stylesheet(source.html):
            inlined = None if safe_markup else _preinline_css(env, source.html, renderer.inline_css)
            if inlined is None:
                self._inline_css = True
            else:
                self._parts["html"] = _compile_part(env, "html", inlined)[0]
                self.precomputed |= {"css"}
        if source.text is None and not self._inline_css:
            derived = _derive_text(env, source.html)
            if derived is not None:
                try:
                    self._parts["text"] = _compile_part(env, "text", derived)[0]
                    self._derived_text = True
                    self.precomputed |= {"text"}
                except TemplateError:
                    pass

    def _render_part(self, part: str, variables: Mapping[str, Any]) -> str:
        limit = self._limits.max_output_chars
        chunks: list[str] = []
        size = 0
        try:
            for chunk in self._parts[part].generate(variables):
                size += len(chunk)
                if size > limit:
                    raise TemplateLimitError(f"rendered {part} exceeds {limit} characters")
                chunks.append(chunk)
        except Exception as exc:
            raise _translate(exc, part) from None
        return "".join(chunks)

    def render(self, variables: Mapping[str, Any]) -> RenderedContent:
        """Render all parts for one recipient. Raises a ``TemplateError`` subclass on failure."""
        token = _BUDGET.set(_Budget(self._limits.max_steps))
        try:
            subject = " ".join(self._render_part("subject", variables).split()) if "subject" in self._parts else ""
            html = self._render_part("html", variables) if "html" in self._parts else None
            text = self._render_part("text", variables) if "text" in self._parts else None
        finally:
            _BUDGET.reset(token)
        if html is not None and self._inline_css:
            html = self._renderer.inline_css(html)
        if self._derived_text and text is not None:
            text = _tidy_text(text)
        elif text is None:
            text = html_to_text(html or "")
        return RenderedContent(subject=subject, html=html, text=text)


class TemplateRenderer:
    """Compiles templates into a bounded cache keyed by (template id, version).

    A (template id, version) pair must name one immutable source: a changed template gets a new
    version. The renderer is thread-safe.
    """

    def __init__(self, limits: RenderLimits = DEFAULT_RENDER_LIMITS, *, cache_size: int = 512) -> None:
        self.limits = limits
        self._env = _Environment(limits, jinja2.StrictUndefined)
        self._preview_env = _Environment(limits, _PreviewUndefined)
        self._cache: OrderedDict[tuple[str, int], CompiledTemplate] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def compile(self, template_id: str, version: int, source: TemplateSource) -> CompiledTemplate:
        """The compiled template for (id, version), compiling ``source`` on first use."""
        key = (template_id, version)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        compiled = CompiledTemplate(self, self._env, source)
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def check(self, source: TemplateSource) -> frozenset[str]:
        """Compile ``source`` without caching it; returns the variable names it uses."""
        return CompiledTemplate(self, self._env, source).variables

    def trial(self, source: TemplateSource, variables: Mapping[str, Any]) -> RenderedContent:
        """Compile and render once without caching (to check a request before accepting it)."""
        return CompiledTemplate(self, self._env, source).render(variables)

    def render(
        self, template_id: str, version: int, source: TemplateSource, variables: Mapping[str, Any]
    ) -> RenderedContent:
        return self.compile(template_id, version, source).render(variables)

    def preview(self, source: TemplateSource, sample: Mapping[str, Any] | None = None) -> Preview:
        """Render with sample variables; a missing variable shows as ``{{ name }}`` instead of failing."""
        sample = sample or {}
        compiled = CompiledTemplate(self, self._preview_env, source)
        content = compiled.render(sample)
        return Preview(content=content, missing=tuple(sorted(compiled.variables - set(sample))))

    def inline_css(self, html: str) -> str:
        """Move ``<style>`` rules into style attributes, keeping @media rules in a ``<style>`` block."""
        try:
            return self._inliner.inline(html)
        except (css_inline.InlineError, ValueError) as exc:
            raise TemplateRenderError(f"cannot inline CSS: {exc}", part="html") from None
