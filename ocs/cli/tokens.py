"""`ocsd token create --role R --name N` (prints the token once) / `token list` / `token revoke NAME`: API tokens
of the admin port (issue 16 point 3), stored hashed in PostgreSQL; creating and revoking are audited."""

from __future__ import annotations

from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit, run, with_backends

ROLES = ("admin", "operator", "read", "payments")  # ocs.admin.auth.ROLES (not imported: keeps the CLI light)


@click.group()
def token() -> None:
    """API tokens of the admin port (roles: admin, operator, read, payments)."""


@token.command("create")
@config_option
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the token may do.")
@click.option("--name", required=True, help="Who or what holds it (unique among live tokens).")
@json_option
def token_create(config_path: str, role: str, name: str, as_json: bool) -> None:
    """Make a token; it is printed once (only its hash is kept)."""
    from ocs.admin.tokens import TokenError, TokenStore

    config = load_or_exit(config_path)

    async def body(backends: Any) -> tuple[str, dict[str, Any]]:
        try:
            return await TokenStore(backends.pool).create(role, name)
        except TokenError as e:
            fail(str(e), as_json=as_json)

    secret, row = run(lambda: with_backends(config, body))
    emit({"ok": True, **row, "token": secret}, as_json,
         lambda: f"{secret}\n(token {name!r}, role {role}: shown once, keep it now)")


@token.command("list")
@config_option
@json_option
def token_list(config_path: str, as_json: bool) -> None:
    """The tokens (never their secret), revoked ones too."""
    from ocs.admin.tokens import TokenStore

    config = load_or_exit(config_path)

    async def body(backends: Any) -> list[dict[str, Any]]:
        return await TokenStore(backends.pool).list()

    rows = run(lambda: with_backends(config, body))
    emit(rows, as_json, lambda: "\n".join(
        f"{r['name']:<24} {r['role']:<9} created {r['created_at']}"
        + (f" revoked {r['revoked_at']}" if r.get("revoked_at") else "") for r in rows) or "no tokens")


@token.command("revoke")
@config_option
@click.argument("name")
@json_option
def token_revoke(config_path: str, name: str, as_json: bool) -> None:
    """Revoke the live token NAME (running daemons refuse it within seconds)."""
    from ocs.admin.tokens import TokenStore

    config = load_or_exit(config_path)

    async def body(backends: Any) -> bool:
        return await TokenStore(backends.pool).revoke(name)

    if not run(lambda: with_backends(config, body)):
        fail(f"no live token named {name}", as_json=as_json)
    emit({"ok": True, "name": name, "revoked": True}, as_json, lambda: f"token {name} revoked")


GROUPS = (token,)
