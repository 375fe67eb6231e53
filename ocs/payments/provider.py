"""The interface of a provider that prompts a customer's phone for a payment (M-Pesa Daraja's STK push is the
first; Airtel Money or MTN MoMo "request to pay" fit the same shape): send the prompt, ask what became of it.
Providers that only notify (C2B, signed webhooks) need no client: see ocs.payments.notices."""

from __future__ import annotations

from typing import Protocol

from ocs.payments.daraja import StkAccepted, StkStatus


class PromptProvider(Protocol):
    async def stk_push(self, phone: str, amount: int, description: str) -> StkAccepted:
        """Prompt `phone` for `amount` whole major units; the provider's request ids. DarajaError when refused."""
        ...

    async def stk_query(self, checkout_request_id: str) -> StkStatus:
        """What became of a prompt (result_code None: not answered yet)."""
        ...

    async def close(self) -> None: ...


__all__ = ["PromptProvider"]
