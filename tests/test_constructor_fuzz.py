"""Hypothesis fuzzing of the encoders' constructors with invalid values.

A valid value is drawn from :mod:`evpn.testing.strategies`, then one of its fields is replaced
(``attrs.evolve``, which runs the converters and validators) by a value drawn from a mix of
wrong types, out-of-range integers and wrong-sized bytes.  The constructor must either

* reject it with ``ValueError`` or ``TypeError`` (nothing else: no ``AttributeError``,
  ``OverflowError``, ``struct.error``), or
* accept it, and then the value must encode and decode back to itself: an accepted value is a
  valid one, so a constructor can never build a value the encoder cannot write.

The round-trip tests (``tests/test_roundtrip.py``) check the valid side, and
``test_constructor_rejects`` there checks each documented rejection and its message.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evpn.testing import strategies as gen
from evpn.testing.strategies import EXTENDED
from evpn.wire import (
    CapabilityParameter,
    Context,
    decode_attributes,
    decode_capability_list,
    decode_evpn_nlri,
    decode_ext_community,
    encode_attribute,
)

REJECTIONS = (ValueError, TypeError)

# Wrong types, integers around every field width, bytes around every fixed size.
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.sampled_from([-1, 1 << 8, 1 << 16, 1 << 24, 1 << 32, 1 << 64]),
    st.floats(allow_nan=True),
    st.text(max_size=24),
    st.sampled_from(["", "0", "5", "::", "10.0.0.1", "2001:db8::1", "02:00:00:00:00:01", "65000:1", "a:b"]),
    st.binary(max_size=40),
    st.integers(min_value=0, max_value=300).map(bytes),
    st.lists(st.integers(min_value=-1, max_value=1 << 33), max_size=3),
    st.lists(st.text(max_size=4), max_size=3).map(tuple),
    st.builds(object),
)


def mutate(data: st.DataObject, value: Any, *, skip: tuple[str, ...] = ()) -> Any:
    """``value`` with one field replaced by junk, or the exception the constructor raised."""
    names = [f.name for f in attrs.fields(type(value)) if f.init and f.name not in skip]
    if not names:  # a capability or community without fields: nothing to replace
        return value
    name = data.draw(st.sampled_from(names), label="field")
    junk = data.draw(JUNK, label="junk")
    try:
        return attrs.evolve(value, **{name: junk})
    except REJECTIONS as exc:
        return exc


@pytest.mark.parametrize("kind", sorted(gen.ROUTE_STRATEGIES))
@settings(max_examples=150)
@given(data=st.data(), add_path=st.booleans())
def test_route_constructors(kind: str, add_path: bool, data: st.DataObject) -> None:
    route = mutate(data, data.draw(gen.ROUTE_STRATEGIES[kind](add_path)))
    if not isinstance(route, Exception):
        assert decode_evpn_nlri(route.encode(), route.path_id is not None) == [route]


@pytest.mark.parametrize("kind", sorted(gen.EXT_COMMUNITY_STRATEGIES))
@settings(max_examples=100)
@given(data=st.data())
def test_ext_community_constructors(kind: str, data: st.DataObject) -> None:
    community = mutate(data, data.draw(gen.EXT_COMMUNITY_STRATEGIES[kind]))
    if not isinstance(community, Exception):
        assert decode_ext_community(community.encode()) == community


ATTRIBUTE_CODES = [c for c in gen.attribute_strategies(Context()) if c not in (6, "unknown")]  # 6 has no value


@pytest.mark.parametrize("code", ATTRIBUTE_CODES, ids=str)
@settings(max_examples=100)
@given(data=st.data(), ctx=gen.contexts())
def test_attribute_constructors(code: int, ctx: Context, data: st.DataObject) -> None:
    # flags are free by design (to build malformed UPDATEs); the decoder judges them
    attr = mutate(data, data.draw(gen.attribute_strategies(ctx)[code]), skip=("flags",))
    if isinstance(attr, Exception):
        return
    wire = encode_attribute(attr, ctx)
    decoded, errors = decode_attributes(wire, ctx)
    assert errors == []
    expected = attrs.evolve(attr, flags=attr.flags | EXTENDED) if wire[0] & EXTENDED else attr
    assert decoded == [expected]


@pytest.mark.parametrize("kind", sorted(gen.CAPABILITY_STRATEGIES))
@settings(max_examples=100)
@given(data=st.data())
def test_capability_constructors(kind: str, data: st.DataObject) -> None:
    cap = mutate(data, data.draw(gen.CAPABILITY_STRATEGIES[kind]))
    if not isinstance(cap, Exception):
        assert decode_capability_list(CapabilityParameter([cap]).value_bytes()) == (cap,)
