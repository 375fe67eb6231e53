"""/api/v1/sessions (issue 16 point 1): the live Gy, Gx and RADIUS hotspot sessions, and ending one — an ASR
through the daemon's own Diameter node for a Gy session (RFC 6733 §8.5, the path of `ocsd session
terminate`), a Disconnect-Request for a hotspot session (RFC 5176 §3, `ocsd hotspot session disconnect`).
The answer carries the peer's result. The service is ocs.services.sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, Field

from ocs.admin.auth import Reader, Writer
from ocs.admin.metrics import admin_session_terminations_total as terminations
from ocs.admin.problems import ApiError, problem_responses
from ocs.provisioning import imsi as check_imsi
from ocs.provisioning import msisdn as check_msisdn
from ocs.services.sessions import APPS, Sessions, TerminateRefused

SessionId = Annotated[str, Path(min_length=1, max_length=256)]


class SessionOut(BaseModel):
    id: str
    app: str = Field(description="gy, gx or radius")
    account: str | None
    imsi: str | None
    msisdn: str | None
    peer: str = Field(description="the owning Diameter peer, or the RADIUS client (router)")
    started: str | None
    detail: dict[str, Any]


class SessionPage(BaseModel):
    items: list[SessionOut]
    next: str | None


class TerminateIn(BaseModel):
    app: str | None = Field(default=None, pattern="^(gy|gx|radius)$", description="default: found by the id")
    timeout: float = Field(default=10.0, ge=0.1, le=30.0, description="seconds to wait for the peer's answer")


class Terminated(BaseModel):
    id: str
    app: str
    peer: str | None
    result: int | str = Field(description="Gy: the ASA's Result-Code; radius: ack, nak or timeout")
    state: str | None = Field(default=None, description="terminating (Gy: until its CCR-T or the reaper) or closed")


def routes(sessions: Sessions) -> Callable[[FastAPI], None]:
    charging = sessions.charging

    def add(app: FastAPI) -> None:
        @app.get("/api/v1/sessions", tags=["sessions"], responses=problem_responses(404, 422))
        async def list_(_who: Reader,
                        account: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
                        imsi: Annotated[str | None, Query(pattern=r"^[0-9]{5,15}$")] = None,
                        msisdn: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
                        app_: Annotated[list[str] | None, Query(alias="app")] = None,
                        after: Annotated[str | None, Query(max_length=300,
                                                           description="the `next` of the previous page")] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> SessionPage:
            """Live sessions (Gy, Gx, RADIUS hotspot), of one account (`account`, or a SIM's `imsi`/`msisdn`),
            ordered by application then id."""
            if sum(x is not None for x in (account, imsi, msisdn)) > 1:
                raise ApiError(422, "invalid_request", "filter by at most one of account, imsi or msisdn")
            if imsi is not None:
                account = str(await charging.account_of_imsi(check_imsi(imsi)))
            elif msisdn is not None:
                account = str(await charging.account_of_msisdn(check_msisdn(msisdn)))
            apps = tuple(a for a in APPS if app_ is None or a in app_)
            found = await sessions.live(account, apps)
            if after is not None:
                kind, _, sid = after.partition(":")
                key = (APPS.index(kind) if kind in APPS else -1, sid)
                found = [s for s in found if (APPS.index(s["app"]), s["id"]) > key]
            page = found[:limit]
            nxt = f"{page[-1]['app']}:{page[-1]['id']}" if len(found) > limit else None
            return SessionPage(items=[SessionOut(**s) for s in page], next=nxt)

        @app.post("/api/v1/sessions/{session_id}/terminate", tags=["sessions"],
                  responses=problem_responses(404, 409, 422, 504))
        async def terminate(session_id: SessionId, who: Writer, body: TerminateIn | None = None) -> Terminated:
            """End a live session: ASR to the owning peer (Gy) or Disconnect-Request to the router (hotspot);
            answers with the peer's result. A Gx session is refused (the PCEF ends it)."""
            body = body or TerminateIn()
            kind = body.app or await sessions.app_of(session_id)
            if kind is None:
                raise ApiError(404, "unknown_session", f"no live session {session_id}")
            try:
                r = await sessions.terminate(session_id, kind, body.timeout)
            except TerminateRefused as e:
                terminations.inc((kind, "refused"))
                raise ApiError(409, "terminate_refused", str(e)) from e
            except TimeoutError as e:
                terminations.inc((kind, "timeout"))
                raise ApiError(504, "peer_timeout", str(e)) from e
            terminations.inc((kind, str(r["result"])))
            return Terminated(id=session_id, app=kind, peer=r["peer"], result=r["result"], state=r.get("state"))

    return add


__all__ = ["routes"]
