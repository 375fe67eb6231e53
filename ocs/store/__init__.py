"""Stores: Redis (hot counters, Lua scripts in lua/) and PostgreSQL (migrations in sql/, queries)."""
