"""OPML, the feed-list format every reader imports and exports. Pure: bytes in, text out.

Reading keeps each feed's category: the outline's own `category` attribute (OPML 2.0: a
comma-separated list of "/"-paths, of which we take the last part of the first), else the
title of the folder outline it sits in, as readers like Feedly and Inoreader export them.
Writing groups feeds in one folder per category and also sets `category`, so both kinds of
readers get it back, and `newsbot feeds import` reads its own export unchanged.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import ImportFormatError
from bot.models import Feed
from bot.text import clean_line

# A DTD can define entities that expand exponentially ("billion laughs"); OPML never needs
# one, so refusing it is simpler and safer than configuring the parser against it (the
# standard library has no switch for it, and defusedxml is not one of our dependencies).
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """A feed as an OPML file lists it."""

    url: str
    title: str | None = None
    category: str | None = None
    language: str | None = None


def parse_opml(data: bytes, source: str = "<opml>") -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, each URL once.

    Raises ImportFormatError (`source:line: reason`) for anything that is not OPML.
    """
    if _DTD.search(data):
        raise ImportFormatError(source, 0, "DTDs and entity declarations are not allowed in OPML")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise ImportFormatError(source, line, f"not valid XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise ImportFormatError(source, 1, f"not an OPML document (root element <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise ImportFormatError(source, 1, "OPML document without a <body>")
    found: dict[str, OpmlFeed] = {}
    _walk(body, None, found)
    return list(found.values())


def _attr(element: ET.Element, name: str) -> str:
    """An attribute whatever its case: exporters write xmlUrl, xmlurl and XMLURL."""
    for key, value in element.attrib.items():
        if key.lower() == name.lower():
            return clean_line(value)
    return ""


def _walk(element: ET.Element, category: str | None, found: dict[str, OpmlFeed]) -> None:
    for outline in element.findall("outline"):
        url = _attr(outline, "xmlUrl")
        label = _attr(outline, "title") or _attr(outline, "text")
        if url:
            if url not in found:
                found[url] = OpmlFeed(
                    url=url,
                    title=label or None,
                    category=_category(_attr(outline, "category")) or category,
                    language=_attr(outline, "language") or None,
                )
            _walk(outline, category, found)
        else:  # a folder: its title is the category of what it holds
            _walk(outline, label or category, found)


def _category(value: str) -> str | None:
    """The category of an OPML 2.0 `category` attribute: "/Actualité/Économie,/x" ->
    "Économie"."""
    first = value.split(",")[0]
    parts = [part.strip() for part in first.split("/") if part.strip()]
    return parts[-1] if parts else None


def render_opml(feeds: Sequence[Feed], *, title: str = "newsbot feeds") -> str:
    """An OPML 2.0 document of *feeds*: one folder outline per category (by display name, in
    the order first seen), uncategorized feeds at the top level."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.category:
            parent = folders.get(feed.category) or ET.SubElement(
                body, "outline", text=feed.category, title=feed.category
            )
            folders[feed.category] = parent
        label = feed.title or feed.url
        attributes = {"type": "rss", "text": label, "title": label, "xmlUrl": feed.url}
        if feed.category:
            attributes["category"] = feed.category
        if feed.language:
            attributes["language"] = feed.language
        ET.SubElement(parent, "outline", attributes)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
