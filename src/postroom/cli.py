"""The ``postroom`` command: run the service or parts of it, migrate, bootstrap users, import, export."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from postroom import __version__
from postroom.config import Settings, load_settings
from postroom.loops import loop_factory, loop_name

app = typer.Typer(
    help="Postroom: catch, send, sync, understand and automate email.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_short=True,
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
apikey_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
tenant_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(tenant_app, name="tenant")
console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

HostOpt = Annotated[str | None, typer.Option("--host", help="HTTP bind address (API_HOST)")]
HttpPortOpt = Annotated[int | None, typer.Option("--http-port", help="HTTP port (API_PORT)")]
SmtpPortOpt = Annotated[int | None, typer.Option("--smtp-port", help="SMTP capture port (SMTP_PORT)")]
SmtpHostOpt = Annotated[str | None, typer.Option("--smtp-host", help="SMTP bind address")]
OpsPortOpt = Annotated[
    int | None, typer.Option("--ops-port", help="serve /health, /ready and /metrics on this port (POSTROOM_OPS_PORT)")
]
DataOpt = Annotated[Path | None, typer.Option("--data", help="data folder (STORAGE_DIR)")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="DATABASE_URL")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="tenant slug")]


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _run(coroutine: Awaitable[T], event_loop: str = "asyncio") -> T:
    async def main() -> T:
        return await coroutine

    with asyncio.Runner(loop_factory=loop_factory(event_loop)) as runner:
        return runner.run(main())


def _banner(settings: Settings, *, http_host: str | None, http_port: int | None, smtp_port: int | None) -> None:
    from postroom.logs import configure_logging

    configure_logging(settings)
    console.print(f"[bold]Postroom {__version__}[/bold] ({settings.environment})")
    if http_port is not None:
        console.print(f"  web UI          http://{http_host}:{http_port}/")
        console.print(f"  HTTP API        http://{http_host}:{http_port}/api/v1/  (OpenAPI at /docs)")
    if smtp_port is not None:
        console.print(f"  SMTP capture    {settings.smtp_bind}:{smtp_port}")
    console.print(f"  database        {_redact(settings.resolved_database_url)}")
    console.print(f"  event loop      {loop_name(settings.event_loop)}")
    console.print(f"  raw messages    {settings.blob_dir.resolve()}")
    if http_port is None and settings.ops_port:
        console.print(f"  health, metrics http://{settings.api_host}:{settings.ops_port}/health, /metrics")
    if http_port is not None and not settings.auth_is_required(http_host):
        console.print(
            "  [yellow]authentication is OFF[/yellow]: bound to loopback, every request acts as the admin "
            "of the default tenant (bind elsewhere or set POSTROOM_AUTH_REQUIRED=true to require it)"
        )


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_service(settings: Settings, *, http: bool, smtp: bool, workers: bool, host: str) -> None:
    from postroom.api.http import create_app, create_ops_app
    from postroom.app import Postroom

    postroom = Postroom(settings)
    await postroom.start(smtp=smtp, workers=workers)
    try:
        if http:
            web = create_app(postroom, auth_required=settings.auth_is_required(host))
            await _serve_http(web, host, settings.api_port)
        elif settings.ops_port:
            await _serve_http(create_ops_app(postroom), host, settings.ops_port)
        else:
            await _wait_for_signal()
    finally:
        await postroom.stop()


class _HttpServer(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM/SIGINT it shut down for is not raised again at
    the end (uvicorn does so, and the process then died before Postroom itself stopped:
    the ingest queue's last commits, the workers' hand-back of their leases)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


async def _serve_http(web: Any, host: str, port: int) -> None:
    """Until SIGINT/SIGTERM."""
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Live event streams never end by themselves: close them after a short grace.
        timeout_graceful_shutdown=3,
    )
    await _HttpServer(config).serve()


@app.command()
def serve(
    host: HostOpt = None,
    http_port: HttpPortOpt = None,
    smtp_port: SmtpPortOpt = None,
    smtp_host: SmtpHostOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Everything in one process: HTTP (API and UI), SMTP capture and the workers."""
    settings = _settings(
        api_host=host,
        api_port=http_port,
        smtp_port=smtp_port,
        smtp_bind=smtp_host,
        storage_dir=data,
        database_url=database_url,
    )
    _banner(settings, http_host=settings.api_host, http_port=settings.api_port, smtp_port=settings.smtp_port)
    _run(
        _run_service(settings, http=True, smtp=True, workers=settings.run_workers, host=settings.api_host),
        settings.event_loop,
    )


@app.command()
def api(host: HostOpt = None, http_port: HttpPortOpt = None, data: DataOpt = None, database_url: DbOpt = None) -> None:
    """Only the HTTP API and UI (scale it out behind a load balancer)."""
    settings = _settings(api_host=host, api_port=http_port, storage_dir=data, database_url=database_url)
    _banner(settings, http_host=settings.api_host, http_port=settings.api_port, smtp_port=None)
    _run(_run_service(settings, http=True, smtp=False, workers=False, host=settings.api_host), settings.event_loop)


@app.command()
def smtp(
    smtp_port: SmtpPortOpt = None,
    smtp_host: SmtpHostOpt = None,
    ops_port: OpsPortOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Only the SMTP capture server."""
    settings = _settings(
        smtp_port=smtp_port, smtp_bind=smtp_host, ops_port=ops_port, storage_dir=data, database_url=database_url
    )
    _banner(settings, http_host=None, http_port=None, smtp_port=settings.smtp_port)
    _run(_run_service(settings, http=False, smtp=True, workers=False, host=settings.api_host), settings.event_loop)


@app.command()
def worker(ops_port: OpsPortOpt = None, data: DataOpt = None, database_url: DbOpt = None) -> None:
    """Only the background workers (parsing, release, pruning); run as many as you like."""
    settings = _settings(ops_port=ops_port, storage_dir=data, database_url=database_url)
    _banner(settings, http_host=None, http_port=None, smtp_port=None)
    _run(_run_service(settings, http=False, smtp=False, workers=True, host=settings.api_host), settings.event_loop)


@app.command()
def migrate(data: DataOpt = None, database_url: DbOpt = None) -> None:
    """Upgrade the database schema in place to the newest version."""
    from postroom.store.migrate import head_revision, upgrade

    settings = _settings(storage_dir=data, database_url=database_url)
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    console.print(f"database at revision [bold]{head_revision()}[/bold]: {_redact(settings.resolved_database_url)}")


async def _with_postroom(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from postroom.app import Postroom

    postroom = Postroom(settings)
    await postroom.start(smtp=False, workers=False, migrate=True)
    try:
        return await work(postroom)
    finally:
        await postroom.stop()


async def _tenant_id(postroom: Any, slug: str) -> int:
    from postroom.auth.service import NotFound

    try:
        return int((await postroom.auth.tenant_by_slug(slug))["id"])
    except NotFound:
        console.print(f"[red]no tenant {slug!r}[/red]; create it with `postroom tenant create {slug}`")
        raise typer.Exit(1) from None


@tenant_app.command("create")
def tenant_create(
    slug: str, name: Annotated[str | None, typer.Option()] = None, data: DataOpt = None, database_url: DbOpt = None
) -> None:
    """Create a tenant."""

    async def work(postroom: Any) -> dict[str, Any]:
        result: dict[str, Any] = await postroom.auth.create_tenant(slug, name or slug)
        return result

    tenant = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    typer.echo(f"tenant {tenant['slug']} created (id {tenant['id']})")


@user_app.command("create")
def user_create(
    email: str,
    role: Annotated[str, typer.Option(help="viewer, developer, admin or super_admin")] = "admin",
    password: Annotated[str | None, typer.Option(help="prompted for when not given")] = None,
    tenant: TenantOpt = "default",
    name: str = "",
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Create a user in a tenant."""
    from postroom.auth.service import parse_role

    secret = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)

    async def work(postroom: Any) -> dict[str, Any]:
        tenant_id = await _tenant_id(postroom, tenant)
        result: dict[str, Any] = await postroom.auth.create_user(tenant_id, email, secret, parse_role(role), name)
        return result

    try:
        user = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(f"user {user['email']} created with role {user['role']} (id {user['id']})")


@apikey_app.command("create")
def apikey_create(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, developer, admin or super_admin")] = "developer",
    tenant: TenantOpt = "default",
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Create an API key; the key is printed once (on standard output) and stored only hashed."""
    from postroom.auth.service import Principal, parse_role

    async def work(postroom: Any) -> str:
        tenant_id = await _tenant_id(postroom, tenant)
        issuer = Principal(tenant_id=tenant_id, role=parse_role("super_admin"), via="cli")
        key, _ = await postroom.auth.create_api_key(issuer, name, parse_role(role))
        return str(key)

    try:
        key = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"API key [bold]{name}[/bold] ({role}, tenant {tenant}); store it now, it is not shown again:")
    typer.echo(key)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command("import")
def import_mail(
    path: Annotated[Path, typer.Argument(help="an mbox file, a Maildir, a folder of .eml files or one .eml")],
    tenant: TenantOpt = "default",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="tag every imported message")] = None,
    batch: int = 200,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Import messages into the store, byte for byte."""
    from postroom.core import mailboxes
    from postroom.core.ingest import Incoming

    try:
        total = mailboxes.count(path)
    except mailboxes.UnknownMailbox as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc

    async def work(postroom: Any) -> int:
        tenant_id = await _tenant_id(postroom, tenant)
        imported = 0
        pending: list[Incoming] = []
        with _progress() as progress:
            task = progress.add_task(f"importing {path.name}", total=total)
            for raw in mailboxes.read(path):
                pending.append(Incoming(raw=raw, tenant_id=tenant_id, source="import", tags=tuple(tag or ())))
                if len(pending) >= batch:
                    imported += len(await postroom.ingestor.ingest_many(pending))
                    progress.advance(task, len(pending))
                    pending = []
            if pending:
                imported += len(await postroom.ingestor.ingest_many(pending))
                progress.advance(task, len(pending))
        return imported

    imported = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    console.print(f"imported {imported} messages; their bodies are parsed in the background by the workers")


@app.command("export")
def export_mail(
    path: Annotated[Path, typer.Argument(help="an mbox file to write, or a folder for .eml files (--format eml)")],
    query: Annotated[str, typer.Option(help="only messages this search finds")] = "",
    fmt: Annotated[str, typer.Option("--format", help="mbox or eml")] = "mbox",
    tenant: TenantOpt = "default",
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Export stored messages, byte for byte, to an mbox file or a folder of .eml files."""
    from postroom.core import mailboxes
    from postroom.store.query import parse_query

    if fmt not in ("mbox", "eml"):
        console.print("[red]--format must be mbox or eml[/red]")
        raise typer.Exit(2)

    async def work(postroom: Any) -> int:
        tenant_id = await _tenant_id(postroom, tenant)
        search = parse_query(query)
        first = await postroom.messages.list(tenant_id, search, limit=1)
        writer = mailboxes.MboxWriter(path) if fmt == "mbox" else mailboxes.EmlFolderWriter(path)
        written = 0
        cursor = None
        with _progress() as progress:
            task = progress.add_task(f"exporting to {path.name}", total=first.total)
            while True:
                page = await postroom.messages.list(tenant_id, search, limit=200, cursor=cursor)
                for item in page.items:
                    writer.add(str(item["id"]), await postroom.messages.raw(tenant_id, item["id"]))
                    written += 1
                    progress.advance(task)
                cursor = page.next_cursor
                if not cursor:
                    break
        writer.close()
        return written

    written = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    console.print(f"exported {written} messages to {path}")


@app.command()
def compact(
    threshold: Annotated[
        float, typer.Option(help="rewrite old segments whose live messages fill less than this share of them")
    ] = 0.5,
    min_reclaim: Annotated[int, typer.Option(help="skip segments that would free fewer bytes than this")] = 1024 * 1024,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Free the disk space of deleted messages now: rewrite old raw-message segments that are mostly dead."""
    from postroom.store import compaction

    if not 0 < threshold <= 1:
        console.print("[red]--threshold must be above 0 and at most 1[/red]")
        raise typer.Exit(2)

    async def work(postroom: Any) -> compaction.CompactionResult:
        return await compaction.compact(postroom.engine, postroom.blobs, threshold=threshold, min_reclaim=min_reclaim)

    result = _run(_with_postroom(_settings(storage_dir=data, database_url=database_url), work))
    if not result.segments:
        console.print(f"nothing to compact: no old segment is less than {threshold:.0%} live")
        return
    console.print(
        f"compacted [bold]{result.segments}[/bold] segments: {_mib(result.bytes_before)} -> "
        f"{_mib(result.bytes_after)}, [bold]{_mib(result.reclaimed)}[/bold] reclaimed, {result.blobs_moved} blobs moved"
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
