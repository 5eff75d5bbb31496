"""Command-line interface: ``python -m evpn``."""
