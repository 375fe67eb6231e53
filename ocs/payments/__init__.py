"""Mobile money (issue 17): M-Pesa Daraja (STK push, STK query, C2B) and signed webhooks of other providers,
behind one service that applies every payment exactly once (ocs.payments.service)."""
