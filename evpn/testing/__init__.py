"""Tools for testing programs built on :mod:`evpn`.

:mod:`evpn.testing.strategies` holds `Hypothesis <https://hypothesis.readthedocs.io>`_
strategies for valid and malformed BGP EVPN values and messages.  It needs Hypothesis: install
the ``testing`` extra (``pip install 'evpn[testing]'``).  This package itself imports nothing
more than :mod:`evpn` does.
"""
