"""``open_store(url)``: one setting selects the backend.

    sqlite:///var/lib/secchain/audit.db     absolute path
    sqlite:audit.db                         relative to the working directory
    opensearch+http://127.0.0.1:9200        plain HTTP
    opensearch+https://user:pass@host:9200?ca_certs=/etc/ssl/os-ca.pem&timeout=10&retries=5

Credentials in the URL are percent-decoded; ``verify_certs=false`` is accepted for lab clusters
only and says so in the name.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from shared.stores.base import AuditStore
from shared.stores.errors import StoreError

_OPENSEARCH_OPTIONS = {"ca_certs", "verify_certs", "timeout", "retries"}


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def open_store(url: str) -> AuditStore:
    if url.startswith("sqlite:"):
        from shared.stores.sqlite import SqliteStore

        rest = url[len("sqlite:"):]
        if rest.startswith("//"):
            rest = rest[2:]
            if not rest.startswith("/"):
                raise StoreError(f"store URL {url!r}: use sqlite:///absolute/path or sqlite:relative/path")
        path = unquote(rest.split("?", 1)[0])
        if path.startswith("//"):
            # sqlite:////abs/path (SQLAlchemy's spelling of an absolute path) means /abs/path too.
            path = "/" + path.lstrip("/")
        if not path or path == ":memory:":
            raise StoreError(f"store URL {url!r}: a file path is required (an in-memory database is not shared "
                             "between connections)")
        return SqliteStore(path)
    if url.startswith(("opensearch+http://", "opensearch+https://")):
        from shared.stores.opensearch import OpenSearchStore

        parts = urlsplit(url[len("opensearch+"):])
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - _OPENSEARCH_OPTIONS)
        if unknown:
            raise StoreError(f"store URL {_redact(url)!r}: unknown option(s) {', '.join(unknown)}; "
                             f"expected {', '.join(sorted(_OPENSEARCH_OPTIONS))}")
        if not parts.hostname:
            raise StoreError(f"store URL {_redact(url)!r}: no host")
        try:
            port = parts.port or 9200
            timeout = float(options.get("timeout", "30"))
            retries = int(options.get("retries", "5"))
        except ValueError as exc:
            raise StoreError(f"store URL {_redact(url)!r}: {exc}") from None
        verify = options.get("verify_certs", "true").lower()
        if verify not in ("true", "false"):
            raise StoreError(f"store URL {_redact(url)!r}: verify_certs must be true or false")
        auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return OpenSearchStore(f"{parts.scheme}://{host}:{port}", http_auth=auth,
                               ca_certs=options.get("ca_certs"), verify_certs=verify == "true",
                               timeout=timeout, retries=retries)
    raise StoreError(f"store URL {_redact(url)!r}: expected sqlite:///path, sqlite:path, "
                     "opensearch+http://host:port or opensearch+https://host:port")
