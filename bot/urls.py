"""URL normalization for de-duplication: the same article reached by two spellings of its URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Tracking parameters that never change which article a URL points to.
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_NAMES = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "xtor", "at_medium"})


def normalize_url(url: str) -> str:
    """A canonical key for *url*: lower-case scheme and host, no default port, no fragment,
    no tracking parameters, no trailing slash on the path, remaining query sorted.

    >>> normalize_url("HTTPS://Example.COM:443/a/b/?utm_source=x&id=2#top")
    'https://example.com/a/b?id=2'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or ""
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_NAMES
    ]
    return urlunsplit((scheme, host, path, urlencode(sorted(query)), ""))


def url_host(url: str) -> str | None:
    """The host of an http(s) URL as a URL parser reads it, lowercased: "lemonde.fr",
    "192.0.2.7", "2001:db8::1" (an IPv6 literal without its brackets); None when the URL has
    none or cannot be parsed (brackets that do not close)."""
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


def absolute_http_url(value: str, base: str | None = None) -> str | None:
    """*value* (a picture's `src`, an `og:image`) resolved against *base*, if that makes an
    http(s) URL with a host; else None (a `data:` URI, a relative URL without a base)."""
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        return None
    try:
        url = urljoin(base, value) if base else value
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 literal, a bad port
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url
