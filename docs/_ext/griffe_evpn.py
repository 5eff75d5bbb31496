"""A Griffe extension for the API reference (``docs/api.md``, built by ``tox -e docs``).

It changes what mkdocstrings shows of the ``evpn`` package, never the package itself:

* **Docstrings.**  evpn's docstrings are written for ``help()`` in reST: Sphinx
  cross-reference roles (``:class:`Session```, ``:func:`~evpn.config.load_config```), reST
  links, and ``::`` before a literal block.  mkdocstrings renders Markdown, where those show as
  written.  So a role becomes the name in code, linked to the object's entry in the API
  reference.  The name is resolved as Python would read it in the docstring's scope: the
  object, then its parents, then what their modules import.  Names outside evpn (builtins,
  other libraries) stay plain code.  The links are *optional* autorefs: a name that the
  reference does not document renders as plain code, and never as a build warning.
  ```text <url>`_`` becomes a Markdown link, a paragraph ending in ``::`` ends in ``:`` (the
  indented block after it is a code block in Markdown too), and a reST simple table (rows between
  ``=====  =====`` borders) becomes a Markdown table, or a list when it has no header row.
* **attrs fields.**  ``name: int = attrs.field(default=0, validator=...)`` would show its
  converters and validators, private helpers, as the attribute's value.  It shows the default
  instead (the value of a private constant it names), or no value when the field has none.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(?P<tilde>~?)(?P<text>[^`]+)`")
EXPLICIT = re.compile(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>")
LINK = re.compile(r"`(?P<title>[^`<]+?)\s*<(?P<url>https?://[^>`]+)>`__?")
LITERAL = re.compile(r"::(?=\n\n[ \t]+\S)")
BORDER = re.compile(r"=+(?: +=+)+ *")


def ours(obj: griffe.Object) -> bool:
    """Whether ``obj`` belongs to the evpn package."""
    return obj.path == "evpn" or obj.path.startswith("evpn.")


def resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` as read in ``obj``'s docstring, or None when it is not evpn's."""
    name = name.lstrip(".")
    if name == "evpn" or name.startswith("evpn."):
        return name
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj if (obj.is_class or obj.is_module) else obj.parent
    while scope is not None:
        member = scope.members.get(first)
        if member is not None:
            path = member.target_path if isinstance(member, griffe.Alias) else member.path
            if not (path == "evpn" or path.startswith("evpn.")):
                return None
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return None


def table_rows(lines: list[str], starts: list[int]) -> list[list[str]]:
    """The rows of a reST simple table's body: a line whose first column is blank continues the row."""
    rows: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], len(line) + 1], strict=True)]
        if cells[0] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
    return rows


def simple_tables(text: str) -> str:
    """``text`` with each reST simple table as a Markdown table (a list when it has no header)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not BORDER.fullmatch(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        starts = [match.start() for match in re.finditer(r"=+", lines[i])]
        borders = [i]
        j = i + 1
        while j < len(lines) and len(borders) < 3:
            if BORDER.fullmatch(lines[j]):
                borders.append(j)
                if j + 1 >= len(lines) or not lines[j + 1].strip():
                    break
            j += 1
        if len(borders) < 2:  # not a table after all
            out.append(lines[i])
            i += 1
            continue
        sections = [table_rows(lines[a + 1 : b], starts) for a, b in itertools.pairwise(borders)]
        if len(sections) == 2:
            (header,), body = sections[0][:1], sections[1]
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
        else:
            out += [f"* {row[0]}: {' '.join(row[1:])}" for row in sections[0]]
        i = borders[-1] + 1
    return "\n".join(out)


def markdown(obj: griffe.Object, text: str) -> str:
    """``text``, a docstring of ``obj``, with its reST constructs turned into Markdown."""

    def role(match: re.Match[str]) -> str:
        text = match["text"].strip()
        if explicit := EXPLICIT.fullmatch(text):
            title, target = explicit["title"], explicit["target"]
        else:
            target = text
            title = target.lstrip(".").rsplit(".", 1)[-1] if match["tilde"] else target.lstrip(".")
        path = resolve(obj, target)
        if path is None:
            return f"`{title}`"
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    text = ROLE.sub(role, simple_tables(text))
    text = LINK.sub(lambda match: f"[{match['title']}]({match['url']})", text)
    return LITERAL.sub(":", text)


def attrs_default(attr: griffe.Attribute) -> str | griffe.Expr | None:
    """The value to show for a class attribute: an ``attrs.field(...)`` shows its default only.

    A default that is a private constant of the module shows the constant's value.
    """
    value = attr.value
    if not (isinstance(value, griffe.ExprCall) and str(value.function) in {"attrs.field", "attr.ib", "field"}):
        return value
    for argument in value.arguments:
        if isinstance(argument, griffe.ExprKeyword) and argument.name == "default":
            default = argument.value
            if isinstance(default, griffe.ExprName) and default.name.startswith("_"):
                constant = attr.module.members.get(default.name)
                if isinstance(constant, griffe.Attribute) and constant.value is not None:
                    return constant.value
            return default
    return None


class EvpnDocstrings(griffe.Extension):
    """Render evpn's reST docstrings and attrs fields well in mkdocstrings."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring once the whole tree (and so every name) is known."""
        if ours(obj) and obj.docstring is not None:
            obj.docstring.value = markdown(obj, obj.docstring.value)

    def on_attribute(self, *, attr: griffe.Attribute, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Show an attrs field's default, not the ``attrs.field(...)`` call."""
        if ours(attr) and attr.parent is not None and attr.parent.is_class:
            attr.value = attrs_default(attr)
