"""A small DOM over the stdlib ``html.parser`` for the Japanese tracking pages.

Three pages with a handful of selectors do not justify BeautifulSoup/lxml as dependencies; this
builds a lenient element tree (void elements, unclosed ``<p>``/``<li>``/``<td>`` handled) and offers
class/id/attribute lookups. Parsers decide what is missing and raise ``ParseError`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
#: Tags an opening tag implicitly closes (enough for table/list markup).
_IMPLIED_END = {
    "li": {"li"},
    "tr": {"tr", "td", "th"},
    "td": {"td", "th"},
    "th": {"td", "th"},
    "p": {"p"},
    "dt": {"dt", "dd"},
    "dd": {"dt", "dd"},
    "option": {"option"},
}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = field(default=None, repr=False)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(
        self, tag: str | None = None, *, cls: str | None = None, **attrs: str
    ) -> list[Element]:
        """Descendants matching ``tag``, having class ``cls`` and every ``attrs`` value."""
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and (cls is None or cls in e.classes)
            and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(
        self, tag: str | None = None, *, cls: str | None = None, **attrs: str
    ) -> Element | None:
        found = self.find_all(tag, cls=cls, **attrs)
        return found[0] if found else None

    def child_elements(self, tag: str | None = None) -> list[Element]:
        return [
            c for c in self.children if isinstance(c, Element) and (tag is None or c.tag == tag)
        ]

    def text(self) -> str:
        """Text content with runs of whitespace collapsed to one space."""
        parts: list[str] = []
        self._collect(parts)
        return " ".join("".join(parts).split())

    def _collect(self, parts: list[str]) -> None:
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            else:
                if child.tag == "br":
                    parts.append(" ")
                child._collect(parts)
                if child.tag in ("td", "th", "li", "div", "p", "dt", "dd", "tr"):
                    parts.append(" ")


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = _IMPLIED_END.get(tag)
        if closes:
            node: Element | None = self.current
            while (
                node is not None
                and node is not self.root
                and node.tag not in ("table", "ul", "ol", "dl", "tbody")
            ):
                if node.tag in closes:
                    self.current = node.parent or self.root
                    break
                node = node.parent
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(
            Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        )

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node is not self.root:
            if node.tag == tag:
                self.current = node.parent or self.root
                return
            node = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(text: str) -> Element:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root
