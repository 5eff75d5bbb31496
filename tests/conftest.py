"""Collection for the whole suite.

``tests/faults`` (fault injection against ``evpn run`` in network namespaces: minutes, root) is
not part of the default run: it is collected only with ``EVPN_FAULTS=1``
(``EVPN_FAULTS=1 pytest tests/faults``).  Named on the command line without it, its tests are
skipped with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FAULTS = Path(__file__).resolve().parent / "faults"
ENABLED = os.environ.get("EVPN_FAULTS") == "1"

collect_ignore: list[str] = [] if ENABLED else ["faults"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="fault scenarios run only with EVPN_FAULTS=1 (EVPN_FAULTS=1 pytest tests/faults)")
    for item in items:
        if FAULTS in item.path.parents:
            item.add_marker(skip)
