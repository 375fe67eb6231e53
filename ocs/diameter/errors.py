"""Errors a peer causes, carrying the Diameter Result-Code to answer with (RFC 6733 §7.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocs.diameter.avp import Avp


class DiameterError(Exception):
    """The peer sent something we must refuse.

    `result_code` is what the answer carries (RFC 6733 §7.1); `failed_avp` is the offending AVP, copied into
    Failed-AVP (RFC 6733 §7.5). `experimental` marks a vendor result code (Experimental-Result, vendor_id).
    """

    def __init__(
        self,
        result_code: int,
        message: str = "",
        failed_avp: Avp | None = None,
        *,
        vendor_id: int = 0,
    ) -> None:
        super().__init__(message or str(result_code))
        self.result_code = result_code
        self.message = message
        self.failed_avp = failed_avp
        self.vendor_id = vendor_id

    def __repr__(self) -> str:
        return f"DiameterError({self.result_code}, {self.message!r})"


class FramingError(Exception):
    """The byte stream cannot be split into messages: the connection must be closed (RFC 6733 §3)."""
