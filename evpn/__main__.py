"""``python -m evpn``: the command-line interface (see :mod:`evpn.cli.main`)."""

from evpn.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
