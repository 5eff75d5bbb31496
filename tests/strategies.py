"""The project's Hypothesis strategies now live in :mod:`evpn.testing.strategies`; this
module re-exports them for test modules that still ``import strategies``."""

from evpn.testing.strategies import *  # noqa: F403
from evpn.testing.strategies import __all__ as __all__
