"""The ``ventros-channels`` command line (needs the ``cli`` extra: click and rich).

ventros-channels adapters
ventros-channels webhook parse --type telegram update.json [--headers h.json --config c.json]
ventros-channels worker --app myapp:make_dispatcher [--concurrency 4]
ventros-channels dead-letters list|show|replay|purge --app myapp:make_dispatcher
ventros-channels health --app myapp:make_dispatcher [--within 5]
ventros-channels db upgrade [REVISION] | downgrade REVISION | stamp REVISION | current | history
ventros-channels channels --db URL --tenant T list|show|create|activate|deactivate|delete|...
ventros-channels channels --db URL --tenant T waha qr CHANNEL_ID
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ventros_channels.adapters import default_registry
from ventros_channels.errors import VentrosChannelsError
from ventros_channels.health import check_app_health
from ventros_channels.history_cli import previously_imported, run_import
from ventros_channels.webhooks import VerificationKeys, WebhookRequest
from ventros_channels.worker_cli import (
    AppReferenceError,
    dead_letter_record,
    find_letters,
    load_object,
    load_target,
    run_worker,
)

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the extra
    click = None  # type: ignore[assignment]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read {what} file {path}: {exc}") from None


if click is not None:

    @click.group()
    @click.version_option(package_name="ventros-channels")
    def cli() -> None:
        """Work with ventros-channels adapters and webhook payloads."""

    @cli.command("adapters")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per adapter.")
    def adapters_command(as_json: bool) -> None:
        """List the adapters found through entry points, with their capabilities."""
        registry = default_registry()
        infos = registry.load_all()
        for info in infos:
            caps = sorted(c.value for c in info.capabilities)
            if as_json:
                record = {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "display_name": info.adapter.display_name,
                    "capabilities": caps,
                }
                click.echo(json.dumps(record))
            else:
                origin = f"{info.distribution or '?'} {info.version or ''}".strip()
                click.echo(f"{info.name:<12} {origin:<28} {', '.join(caps) or '-'}")
        for error in registry.errors:
            click.echo(f"error: {error}", err=True)

    @cli.group("webhook")
    def webhook_group() -> None:
        """Inspect webhook deliveries."""

    @webhook_group.command("parse")
    @click.option("--type", "channel_type", required=True, help="Channel type, e.g. telegram.")
    @click.argument("body_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--headers",
        "headers_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON object of the delivery's headers; with --config, verify before parsing.",
    )
    @click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON channel config (secrets included) used for verification and parsing.",
    )
    @click.option("--raw/--no-raw", default=False, help="Include each event's raw payload.")
    def parse_command(
        channel_type: str,
        body_file: Path,
        headers_file: Path | None,
        config_file: Path | None,
        raw: bool,
    ) -> None:
        """Print the normalized events of a raw webhook body as JSON lines."""
        try:
            adapter = default_registry().get(channel_type)
            body = body_file.read_bytes()
            config = None
            if config_file is not None:
                config = adapter.config_model.parse(_read_json(config_file, "config"))
            if headers_file is not None:
                if config is None:
                    raise click.UsageError("--headers needs --config to verify the delivery")
                secret = config.webhook_secret()
                keys = VerificationKeys(
                    secrets=(secret,) if secret is not None else (), now=datetime.now(UTC)
                )
                headers = _read_json(headers_file, "headers")
                adapter.verify(WebhookRequest("POST", body, headers), keys)
            events = adapter.parse(body, config)
        except VentrosChannelsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(2)
        for event in events:
            record = event.to_json_dict()
            if not raw:
                record.pop("raw", None)
            click.echo(json.dumps(record, ensure_ascii=False))


if click is not None:

    @cli.command("import-history")
    @click.argument("channel_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="JSON-lines file the messages are appended to (idempotent on restart).",
    )
    @click.option(
        "--checkpoints",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".ventros-checkpoints"),
        show_default=True,
        help="Directory of resumable checkpoints.",
    )
    @click.option(
        "--strategy",
        type=click.Choice(["all", "new_only", "recent"]),
        default="all",
        show_default=True,
    )
    @click.option("--since-days", type=int, default=None, help="Only the last N days.")
    @click.option("--per-chat", type=int, default=None, help="At most N messages per chat.")
    @click.option("--concurrency", type=int, default=8, show_default=True)
    @click.option(
        "--fake",
        "fake",
        default=None,
        metavar="CHATSxMESSAGES",
        help="Import from the built-in fake WAHA server, e.g. 200x500.",
    )
    @click.option(
        "--fake-latency",
        type=float,
        default=0.02,
        show_default=True,
        help="Seconds per request of the fake server.",
    )
    @click.option("--no-progress", is_flag=True, help="Plain output instead of a progress bar.")
    def import_history_command(
        channel_file: Path,
        output: Path,
        checkpoints: Path,
        strategy: str,
        since_days: int | None,
        per_chat: int | None,
        concurrency: int,
        fake: str | None,
        fake_latency: float,
        no_progress: bool,
    ) -> None:
        """Import a channel's history into a JSON-lines file, with a progress bar.

        CHANNEL_FILE is JSON: {"channel_type": "waha", "name": "...", "config": {...}}.
        Interrupt it at any time: run it again and it resumes from its checkpoint.
        """
        spec = _read_json(channel_file, "channel")
        if not isinstance(spec, dict) or "channel_type" not in spec or "config" not in spec:
            raise click.UsageError("the channel file needs 'channel_type' and 'config'")
        earlier = asyncio.run(previously_imported(spec, fake, checkpoints))
        try:
            report = asyncio.run(
                run_import(
                    spec,
                    output=output,
                    checkpoints=checkpoints,
                    strategy=strategy,
                    since_days=since_days,
                    per_chat=per_chat,
                    concurrency=concurrency,
                    fake=fake,
                    fake_latency=fake_latency,
                    progress=not no_progress,
                )
            )
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted: run the same command again to resume from the checkpoint "
                f"in {checkpoints}/",
                err=True,
            )
            sys.exit(130)
        except VentrosChannelsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(2)
        added = max(0, report.messages - earlier)
        rate = added / report.duration if report.duration > 0 else 0.0
        how = "resumed" if report.resumed else "fresh start"
        if report.resumed and added == 0:
            how = "already complete, nothing new"
        click.echo(
            f"imported {added} messages ({report.messages} in all) from {report.chats} chats "
            f"in {report.duration:.1f} s, {rate:,.0f}/s ({how}); skipped {report.skipped}"
        )
        for chat, reason in report.skipped_chats.items():
            click.echo(f"  skipped {chat}: {reason}", err=True)


if click is not None:
    _APP_HELP = (
        "module:attribute naming a WebhookDispatcher or Worker, or a factory returning one "
        "(the same factory the web process uses)."
    )

    @cli.command("worker")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.option("--concurrency", type=click.IntRange(1), default=None, help="Handling loops.")
    @click.option(
        "--grace",
        type=float,
        default=30.0,
        show_default=True,
        help="Seconds to finish held deliveries after SIGTERM before giving them back.",
    )
    @click.option("--log-level", default="INFO", show_default=True)
    def worker_command(app_ref: str, concurrency: int | None, grace: float, log_level: str) -> None:
        """Handle deliveries from the app's inbox until SIGTERM / Ctrl-C.

        Run as many worker processes as you like on one durable inbox: they share the work,
        and events of one chat are still handled one at a time, in order.
        """
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
        try:
            asyncio.run(run_worker(app_ref, concurrency=concurrency, grace=grace))
        except AppReferenceError as exc:
            raise click.UsageError(str(exc)) from None

    @cli.command("health")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.option("--within", type=float, default=5.0, show_default=True, help="Seconds per check.")
    def health_command(app_ref: str, within: float) -> None:
        """Check that the app's repository, inbox and shared cache answer; prints the JSON
        report and exits 0 when healthy, 1 when not (for orchestrators' exec probes).
        """
        try:
            report = asyncio.run(check_app_health(app_ref, within=within))
        except AppReferenceError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(json.dumps(report.to_dict(), indent=2))
        sys.exit(0 if report.ok else 1)

    @cli.group("dead-letters")
    def dead_letters_group() -> None:
        """List, show, replay or purge events whose handling kept failing."""

    def _letters(app_ref: str, ids: tuple[str, ...], action: str) -> Any:
        async def go() -> Any:
            inbox = (await load_target(app_ref)).inbox
            letters = await find_letters(inbox, ids)
            if action == "replay":
                return await inbox.replay([x.id for x in letters])
            if action == "purge":
                return await inbox.purge([x.id for x in letters])
            return letters

        try:
            return asyncio.run(go())
        except AppReferenceError as exc:
            raise click.UsageError(str(exc)) from None
        except VentrosChannelsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(2)

    @dead_letters_group.command("list")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
    def dead_letters_list(app_ref: str, as_json: bool) -> None:
        """Every dead letter, oldest first."""
        for letter in _letters(app_ref, (), "list"):
            record = dead_letter_record(letter)
            if as_json:
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                click.echo(
                    f"{record['id']:<14} {record['failed_at'][:19]}  {record['kind']:<10} "
                    f"chat={record['chat_id']} attempts={record['attempts']}  {record['error']}"
                )

    @dead_letters_group.command("show")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.argument("ids", nargs=-1, required=True)
    def dead_letters_show(app_ref: str, ids: tuple[str, ...]) -> None:
        """The dead letters IDS in full, event included (JSON)."""
        letters = _letters(app_ref, ids, "show")
        if not letters:
            click.echo("no such dead letter", err=True)
            sys.exit(1)
        for letter in letters:
            click.echo(json.dumps(dead_letter_record(letter, full=True), ensure_ascii=False))

    @dead_letters_group.command("replay")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.option("--all", "every", is_flag=True, help="Replay every dead letter.")
    @click.argument("ids", nargs=-1)
    def dead_letters_replay(app_ref: str, every: bool, ids: tuple[str, ...]) -> None:
        """Hand the dead letters IDS (or --all) to the workers again."""
        if not ids and not every:
            raise click.UsageError("name dead letters to replay, or pass --all")
        click.echo(f"replayed {_letters(app_ref, ids, 'replay')}")

    @dead_letters_group.command("purge")
    @click.option("--app", "app_ref", required=True, help=_APP_HELP)
    @click.option("--all", "every", is_flag=True, help="Purge every dead letter.")
    @click.argument("ids", nargs=-1)
    def dead_letters_purge(app_ref: str, every: bool, ids: tuple[str, ...]) -> None:
        """Delete the dead letters IDS (or --all) for good."""
        if not ids and not every:
            raise click.UsageError("name dead letters to purge, or pass --all")
        click.echo(f"purged {_letters(app_ref, ids, 'purge')}")


if click is not None:

    @cli.group("db")
    def db_group() -> None:
        """Alembic migrations of the library's tables (needs the ``sql`` extra)."""

    def _db_options(command: Any) -> Any:
        url = click.option(
            "--url",
            envvar="VENTROS_DATABASE_URL",
            required=True,
            help="Async SQLAlchemy URL (or VENTROS_DATABASE_URL).",
        )
        schema = click.option("--schema", default=None, help="PostgreSQL schema of the tables.")
        return url(schema(command))

    def _migrate() -> Any:
        try:
            from ventros_channels.sql import migrate  # noqa: PLC0415 - needs the sql extra
        except ImportError as exc:
            raise click.UsageError(f"the db commands need the sql extra ({exc.name})") from None
        return migrate

    def _db(action: str, url: str, schema: str | None, revision: str | None = None) -> None:
        try:
            heads = asyncio.run(_migrate().run_command(action, url, revision, schema=schema))
        except VentrosChannelsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(2)
        click.echo(f"at {', '.join(heads) or 'base (no revision)'}")

    @db_group.command("upgrade")
    @_db_options
    @click.argument("revision", default="head")
    def db_upgrade(url: str, schema: str | None, revision: str) -> None:
        """Migrate up to REVISION (default: head)."""
        _db("upgrade", url, schema, revision)

    @db_group.command("downgrade")
    @_db_options
    @click.argument("revision")
    def db_downgrade(url: str, schema: str | None, revision: str) -> None:
        """Migrate down to REVISION (base drops the library's tables)."""
        _db("downgrade", url, schema, revision)

    @db_group.command("stamp")
    @_db_options
    @click.argument("revision")
    def db_stamp(url: str, schema: str | None, revision: str) -> None:
        """Record REVISION as applied without running it."""
        _db("stamp", url, schema, revision)

    @db_group.command("current")
    @_db_options
    def db_current(url: str, schema: str | None) -> None:
        """The revision the database is at."""
        _db("current", url, schema)

    @db_group.command("history")
    def db_history() -> None:
        """Every revision, newest first."""
        for line in _migrate().history():
            click.echo(line)

    @cli.command("reencrypt")
    @click.option(
        "--app",
        "app_ref",
        required=True,
        help="module:attribute naming a SqlChannelRepository (or a factory returning one) "
        "whose cipher is the new one, e.g. RotatingCipher(new, old).",
    )
    @click.option("--batch", type=click.IntRange(1), default=500, show_default=True)
    def reencrypt_command(app_ref: str, batch: int) -> None:
        """Write every channel's secrets again with the repository's current key."""

        async def go() -> int:
            target = await load_object(app_ref)
            repository = getattr(target, "repository", target)
            if not callable(getattr(repository, "reencrypt", None)):
                raise AppReferenceError(f"{app_ref!r} gave no SQL repository")
            try:
                count: int = await repository.reencrypt(batch=batch)
            finally:
                engine = getattr(repository, "engine", None)
                if engine is not None:  # this process made it: close its connections
                    await engine.dispose()
            return count

        try:
            done = asyncio.run(go())
        except AppReferenceError as exc:
            raise click.UsageError(str(exc)) from None
        except VentrosChannelsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(2)
        click.echo(f"re-encrypted {done} channels")


if click is not None:
    from ventros_channels.cli_channels import register as _register_channels

    _register_channels(cli)


def main() -> None:
    """Console-script entry point."""
    if click is None:  # pragma: no cover
        sys.stderr.write("the CLI needs its extra: pip install 'ventros-channels[cli]'\n")
        sys.exit(1)
    cli()


if __name__ == "__main__":
    main()
