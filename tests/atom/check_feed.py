"""Check an Atom feed against RFC 4287's requirements, and read it as feed readers do.

Usage: check_feed.py FILE. Prints a JSON summary on the last line; exits 1 listing every
violation. The checks are the "MUST"s of RFC 4287 sections 4.1.1 (atom:feed), 4.1.2
(atom:entry), 3.3 (dates) and 4.2.7 (links), on the XML as parsed by Python's ElementTree;
feedparser (the library most feed readers build on) must then recognise it as Atom 1.0
without complaint.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import feedparser

A = "{http://www.w3.org/2005/Atom}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def absolute_iri(s):
    u = urlparse(s or "")
    return bool(u.scheme) and (bool(u.netloc) or u.scheme in ("urn", "tag"))


def check_common(el, where):
    ids = el.findall(A + "id")
    need(len(ids) == 1, f"{where}: exactly one atom:id")
    if ids:
        need(absolute_iri(ids[0].text), f"{where}: atom:id is an absolute IRI ({ids[0].text!r})")
    titles = el.findall(A + "title")
    need(len(titles) == 1, f"{where}: exactly one atom:title")
    updated = el.findall(A + "updated")
    need(len(updated) == 1, f"{where}: exactly one atom:updated")
    for d in el.findall(A + "updated") + el.findall(A + "published"):
        need(bool(DATE.match(d.text or "")), f"{where}: {d.tag} is an RFC 3339 date-time ({d.text!r})")
    alternates = set()
    for link in el.findall(A + "link"):
        need(bool(link.get("href")), f"{where}: atom:link has an href")
        if link.get("rel", "alternate") == "alternate":
            key = (link.get("type"), link.get("hreflang"))
            need(key not in alternates, f"{where}: at most one alternate link per type and hreflang")
            alternates.add(key)
    for t in titles:
        need(t.get("type", "text") in ("text", "html", "xhtml"), f"{where}: title type")


text = open(sys.argv[1], encoding="utf-8").read()
root = ET.fromstring(text)
need(root.tag == A + "feed", "the root element is atom:feed")
check_common(root, "feed")
feed_authors = root.findall(A + "author")
for a in feed_authors:
    need(len(a.findall(A + "name")) == 1, "feed: atom:author has exactly one atom:name")
need(any(l.get("rel") == "self" for l in root.findall(A + "link")), "feed: a rel=self link (SHOULD, kept as a rule here)")
entry_ids = []
for i, e in enumerate(root.findall(A + "entry")):
    where = f"entry {i}"
    check_common(e, where)
    need(bool(feed_authors) or bool(e.findall(A + "author")), f"{where}: an author, or one on the feed")
    contents = e.findall(A + "content")
    need(len(contents) <= 1, f"{where}: at most one atom:content")
    need(bool(contents) or any(l.get("rel", "alternate") == "alternate" for l in e.findall(A + "link")),
         f"{where}: atom:content or an alternate link")
    entry_ids.extend(x.text for x in e.findall(A + "id"))
need(len(entry_ids) == len(set(entry_ids)), "entries have distinct ids")

parsed = feedparser.parse(text)
need(parsed.version == "atom10", f"feedparser reads Atom 1.0 (it read {parsed.version!r})")
need(not parsed.bozo, f"feedparser reads it without complaint ({parsed.get('bozo_exception')!r})")

summary = {
    "entries": len(entry_ids),
    "titles": [e.title for e in parsed.entries],
    "links": [e.link for e in parsed.entries],
    "feed_title": parsed.feed.get("title"),
    "subtitle": parsed.feed.get("subtitle"),
    "feed_link": parsed.feed.get("link"),
    "related": [
        {"href": l.get("href"), "title": l.get("title"), "type": l.get("type")}
        for l in parsed.feed.get("links", [])
        if l.get("rel") == "related"
    ],
    "updated": [e.get("updated") for e in parsed.entries],
    "categories": [[t.get("term") for t in e.get("tags", [])] for e in parsed.entries],
    "entry_related": [
        [l.get("href") for l in e.get("links", []) if l.get("rel") == "related"]
        for e in parsed.entries
    ],
}
if problems:
    print("\n".join(problems), file=sys.stderr)
print(json.dumps(summary))
sys.exit(1 if problems else 0)
