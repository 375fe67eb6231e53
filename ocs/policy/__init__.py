"""Policy (Gx, TS 29.212): plans, their charging rules and the decisions taken on them. Pure: no I/O."""
