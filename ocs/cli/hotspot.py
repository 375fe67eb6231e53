"""`ocsd hotspot ...` and `ocsd voucher ...`: hotspot packages, vouchers and live sessions (issue 11 point 6)."""

from __future__ import annotations

import csv
import sys
import time
from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit
from ocs.cli.money import call, table


def _service(charging: Any) -> Any:
    from ocs.services.hotspot import HotspotService
    return HotspotService(charging.store, charging.pool)


@click.group()
def hotspot() -> None:
    """Hotspot packages and sessions (RADIUS, Mikrotik)."""


@hotspot.group("package")
def package() -> None:
    """Hotspot packages: what a voucher gives."""


def _package_json(p: Any) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "time_seconds": p.time_seconds, "data_octets": p.data_octets,
            "rate_limit": p.rate_limit, "validity_hours": p.validity_hours, "devices": p.devices, "price": p.price}


@package.command("create")
@config_option
@click.option("--code", required=True, help="Package code (letters, digits, '_', '.', '-'; up to 32).")
@click.option("--name", required=True, help="Display name.")
@click.option("--time-seconds", required=True, type=int, metavar="N", help="Time allowance (shared by devices).")
@click.option("--data-octets", type=int, metavar="N", help="Data allowance [unlimited].")
@click.option("--rate-limit", required=True, metavar="RATE", help='Mikrotik-Rate-Limit, e.g. "2M/4M".')
@click.option("--validity-hours", required=True, type=int, metavar="H", help="Hours from the first login.")
@click.option("--devices", type=int, default=1, show_default=True, metavar="N", help="Devices online at once.")
@click.option("--price", required=True, type=int, metavar="MINOR", help="Price in minor units.")
@json_option
def package_create(config_path: str, code: str, name: str, time_seconds: int, data_octets: int | None,
                   rate_limit: str, validity_hours: int, devices: int, price: int, as_json: bool) -> None:
    """Add a hotspot package (an existing code is refused)."""
    from radius.hotspot import HotspotPackage

    config = load_or_exit(config_path)
    try:
        p = HotspotPackage(code, name, time_seconds, data_octets, rate_limit, validity_hours, devices, price)
    except ValueError as e:
        fail(str(e), as_json=as_json)

    async def body(charging: Any) -> None:
        await _service(charging).create_package(p)

    call(config, as_json, body)
    emit({"ok": True, **_package_json(p)}, as_json, lambda: f"created hotspot package {code} ({name})")


@package.command("list")
@config_option
@json_option
def package_list(config_path: str, as_json: bool) -> None:
    """The hotspot packages."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await _service(charging).packages())

    out = [_package_json(p) for p in call(config, as_json, body)]
    header = ("code", "name", "time_seconds", "data_octets", "rate_limit", "validity_hours", "devices", "price")
    emit(out, as_json, lambda: table(header, [["unlimited" if p[k] is None else p[k] for k in header] for p in out],
                                     "no packages"))


@package.command("purchase")
@config_option
@click.option("--msisdn", required=True, help="The subscriber (its account pays with airtime).")
@click.option("--package", "package_code", required=True, metavar="CODE", help="The hotspot package.")
@click.option("--pin", required=True, help="The password the subscriber logs in with (user name: the MSISDN).")
@click.option("--ref", help="Payment reference (idempotent: the same ref never debits twice) [generated].")
@json_option
def package_purchase(config_path: str, msisdn: str, package_code: str, pin: str, ref: str | None,
                     as_json: bool) -> None:
    """A mobile subscriber buys a hotspot package with airtime."""
    import uuid

    from ocs.cli.money import check_msisdn_option

    config = load_or_exit(config_path)
    msisdn = check_msisdn_option(msisdn, "msisdn", as_json)
    reference = ref or "hs-" + uuid.uuid4().hex[:16]

    async def body(charging: Any) -> dict[str, Any]:
        return dict(await _service(charging).purchase(charging, msisdn, package_code, pin, reference))

    out = call(config, as_json, body)
    emit({"ok": True, **out}, as_json, lambda: f"{msisdn} bought hotspot package {package_code} ({out['price']})")


@hotspot.group("session")
def session() -> None:
    """Live hotspot sessions."""


@session.command("list")
@config_option
@json_option
def session_list(config_path: str, as_json: bool) -> None:
    """The sessions online now (from Redis)."""
    from ocs.services.hotspot import session_json

    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return [session_json(s) for s in await _service(charging).live_sessions()]

    out = call(config, as_json, body)
    header = ("acct_session_id", "user", "client", "calling_station_id", "framed_ip", "session_time",
              "input_octets", "output_octets")
    emit(out, as_json, lambda: table(header, [[s[k] for k in header] for s in out], "no sessions"))


@session.command("disconnect")
@config_option
@click.argument("acct_session_id", metavar="ACCT-SESSION-ID")
@json_option
def session_disconnect(config_path: str, acct_session_id: str, as_json: bool) -> None:
    """Send the router a Disconnect-Request for a live session (RFC 5176); prints the outcome (ack, nak,
    timeout). Exit 2 when no live session has this id or the router refused (nak), 1 when it did not answer."""
    from ocs.cli.common import EXIT_UNAVAILABLE
    from ocs.services.hotspot_enforce import Enforcer
    from ocs.services.radius_runtime import client_table
    from ocs.transport.radius import DynAuthClient
    from radius.dictionary import load_dictionary

    config = load_or_exit(config_path)
    r = config.radius

    async def body(charging: Any) -> str | None:
        dynauth = DynAuthClient(load_dictionary(), r.coa_timeout, r.coa_retries)
        try:
            enforcer = Enforcer(_service(charging), charging.pool, client_table(config), dynauth)
            return await enforcer.disconnect(acct_session_id)
        finally:
            dynauth.close()

    result = call(config, as_json, body)
    if result is None:
        fail(f"no live session {acct_session_id!r}", as_json=as_json)
    emit({"ok": result == "ack", "acct_session_id": acct_session_id, "outcome": result}, as_json,
         lambda: f"disconnect {acct_session_id}: {result}")
    if result == "nak":
        sys.exit(2)
    if result != "ack":
        sys.exit(EXIT_UNAVAILABLE)


@click.group()
def voucher() -> None:
    """Hotspot vouchers."""


@voucher.command("generate")
@config_option
@click.option("--package", "package_code", required=True, metavar="CODE", help="The hotspot package.")
@click.option("--count", required=True, type=click.IntRange(min=1, max=100_000), metavar="N", help="How many.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), metavar="FILE.csv",
              help="Write the codes to a CSV file (code,package) instead of the output.")
@click.option("--bind-mac", is_flag=True, help="Bind each voucher to the first device (MAC) that uses it.")
@json_option
def voucher_generate(config_path: str, package_code: str, count: int, out_path: str | None, bind_mac: bool,
                     as_json: bool) -> None:
    """Generate a batch of vouchers, each owning an account holding the package."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[str]:
        service = _service(charging)
        show = count >= 100 and not as_json and sys.stderr.isatty()
        with click.progressbar(length=count, label="vouchers", file=sys.stderr) if show else _NoBar() as bar:
            return list(await service.generate_vouchers(
                charging, package_code, count, length=config.radius.voucher_length,
                currency=config.charging.currency, bind_mac=bind_mac, progress=bar.update))

    codes = call(config, as_json, body)
    if out_path:
        with open(out_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["code", "package"])
            w.writerows([c, package_code] for c in codes)
    emit({"ok": True, "package": package_code, "count": len(codes), "bind_mac": bind_mac,
          "codes": codes if not out_path else None, "out": out_path}, as_json,
         lambda: f"{len(codes)} vouchers written to {out_path}" if out_path else "\n".join(codes))


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


@voucher.command("show")
@config_option
@click.argument("code")
@json_option
def voucher_show(config_path: str, code: str, as_json: bool) -> None:
    """A voucher: status, what is left, the bound MAC and its sessions."""
    from radius.errors import UnknownVoucher

    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        try:
            return dict(await _service(charging).voucher(code, int(time.time())))
        except UnknownVoucher:
            fail(f"no voucher {code!r}", as_json=as_json)

    v = call(config, as_json, body)
    emit(v, as_json, lambda: "\n".join(f"{k}: {v[k]}" for k in ("code", "status", "time_left_seconds",
                                                                 "data_left_octets", "bound_mac", "validity_end"))
         + f"\nsessions: {len(v['sessions'])}")


GROUPS = (hotspot, voucher)
