"""The real daemon serving the applications of its config (S6a, with Redis and PostgreSQL) and, besides them,
the echo credit-control application (app 4, answered 2001 at once): so that a peer can be allowed Gy alone and
still connect, the way a PGW would. Used by the rogue-peer end-to-end tests; run as
`python -m tests.support.rogue_daemon -c FILE`.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    import uvloop

    from ocs.backends import open_backends
    from ocs.config import load_config
    from ocs.daemon import Daemon, build_dispatch
    from ocs.logs import configure_logging
    from tests.support.echo_daemon import echo_dispatch

    config = load_config(argv[argv.index("-c") + 1])
    configure_logging(config.log.level, config.log.format)

    async def run() -> None:
        daemon = Daemon(config, backends=await open_backends(config))
        dispatch = build_dispatch(config, daemon.backends)
        for route in echo_dispatch(config.node.origin_host, config.node.origin_realm):
            dispatch.register(route.application, route.command_code, route.handler, route.app_name,
                              route.command_name, route.refuse)
        daemon.dispatch = dispatch
        await daemon.run()

    uvloop.run(run())


if __name__ == "__main__":
    main(sys.argv)
