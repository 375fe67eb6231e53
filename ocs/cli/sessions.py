"""`ocsd session list|terminate` and `ocsd cdr show`: the live Gy sessions (Redis) and their records
(PostgreSQL, written behind by the daemon)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit
from ocs.cli.money import Who, account_of, call, table


def _who(account: str | None, imsi: str | None, msisdn: str | None, as_json: bool) -> Who | None:
    from ocs.cli.money import parse_who

    if account is None and imsi is None and msisdn is None:
        return None
    return parse_who(account, imsi, msisdn, as_json)


def _filters(f: Any) -> Any:
    f = click.option("--msisdn", metavar="MSISDN", help="Only the account of this SIM's MSISDN.")(f)
    f = click.option("--imsi", metavar="IMSI", help="Only the account of this SIM's IMSI.")(f)
    return click.option("--account", metavar="ID", help="Only this account.")(f)


@click.group()
def session() -> None:
    """Live Gy and Gx sessions."""


@session.command("list")
@config_option
@_filters
@click.option("--app", type=click.Choice(("gy", "gx")), default="gy", show_default=True,
              help="Gy (credit control) or Gx (PCEF policy) sessions.")
@json_option
def session_list(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, app: str,
                 as_json: bool) -> None:
    """Live sessions with their reservations, or with --app gx their plan and rules (all accounts, or one)."""
    from ocs.services.sessions import gy_sessions

    who = _who(account, imsi, msisdn, as_json)
    config = load_or_exit(config_path)
    if app == "gx":
        from ocs.cli.gx_sessions import gx_sessions, gx_text

        async def gx_body(charging: Any) -> list[dict[str, Any]]:
            return await gx_sessions(config, charging, await account_of(charging, who) if who else None)

        gx_found = call(config, as_json, gx_body)
        return emit(gx_found, as_json, lambda: gx_text(gx_found))

    async def body(charging: Any) -> list[dict[str, Any]]:
        return await gy_sessions(config, charging, await account_of(charging, who) if who is not None else None)

    found = call(config, as_json, body)

    def text() -> str:
        rows = [[s["session"], s["account"], s["imsi"] or s["msisdn"], s["peer"],
                 datetime.fromtimestamp(s["start_ms"] / 1000, UTC).isoformat(timespec="seconds"),
                 s["request_number"], ",".join(f"{k}:{v}" for k, v in s["reserved"].items())] for s in found]
        return table(("session", "account", "subscriber", "peer", "start", "request", "reserved"), rows,
                     "no live sessions")

    emit(found, as_json, text)


@session.command("terminate")
@config_option
@click.argument("session_id", metavar="SESSION-ID")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for the daemon and the peer's answer.")
@json_option
def session_terminate(config_path: str, session_id: str, timeout: float, as_json: bool) -> None:
    """Ask the running daemon to send ASR to the session's owning peer; prints the ASA's Result-Code."""
    from ocs.services.sessions import TerminateRefused, abort_gy

    config = load_or_exit(config_path)

    async def body(charging: Any) -> Any:
        try:
            answer = await abort_gy(charging, session_id, timeout)
            return {"ok": True, "session": session_id, "peer": answer["peer"], "result": answer["result"],
                    "state": answer["state"]}
        except (TerminateRefused, TimeoutError) as e:
            fail(str(e), as_json=as_json)

    answer = call(config, as_json, body)
    if not answer.get("ok"):
        fail(answer.get("error", "refused"), as_json=as_json)
    emit(answer, as_json, lambda: f"ASA from {answer['peer']} for {session_id}: Result-Code {answer['result']}")


@click.group()
def cdr() -> None:
    """Charging data records of Gy sessions and events."""


@cdr.command("show")
@config_option
@click.option("--account", metavar="ID", help="Only this account's records.")
@click.option("--session", "session_id", metavar="ID", help="Only the record of this Session-Id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many.")
@json_option
def cdr_show(config_path: str, account: str | None, session_id: str | None, limit: int, as_json: bool) -> None:
    """Records in PostgreSQL, newest first (a record reaches it within seconds of the session's end)."""
    from ocs.store.cdrs import cdrs

    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[dict[str, Any]]:
        return await cdrs(charging.pool, account=account, session=session_id, limit=limit)

    found = call(config, as_json, body)

    def text() -> str:
        rows = [[c["session"], c["account"], c["imsi"] or c["msisdn"], c["start"], c["stop"], c["cause"],
                 " ".join(f"rg{u['rg']}:{u['used']}u/{u['charged']}" for u in c["usage"])] for c in found]
        return table(("session", "account", "subscriber", "start", "stop", "cause", "usage (units/charged)"), rows,
                     "no records")

    emit(found, as_json, text)


GROUPS = (session, cdr)

__all__ = ["GROUPS", "cdr", "session"]
