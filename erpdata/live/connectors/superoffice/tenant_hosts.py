"""Where a SuperOffice tenant answers, and where its credentials may go: URL origins compared
normalised, the trusted domains a resolved tenant host must lie under, and the OIDC token
endpoint of a tenant's environment. Apart from the connector because the connection settings
(:mod:`erpdata.live.connections`) and the renewal need them without a connector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

#: Domains a resolved tenant host must lie under before credentials go there.
DEFAULT_TRUSTED_DOMAINS: tuple[str, ...] = ("superoffice.com",)
#: ``/api/state`` states in which waiting will not help.
_FINAL_STATES = frozenset({"deleted", "suspended", "provisioningfailed", "deleting",
                           "deletefailed"})
_DEFAULT_PORT = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of a URL, normalised so that two spellings of one server
    compare equal: the scheme and host in lower case and the scheme's default port filled in
    (real ``odata.nextLink`` URLs spell ``https://sod2.superoffice.com:443/...`` while the
    configured URL usually has no port)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORT.get(scheme)


def token_url_for(url: str) -> str:
    """The OIDC token endpoint of a tenant URL's environment: ``sod2.superoffice.com`` and
    ``sod.superoffice.com`` both log in at ``https://sod.superoffice.com/login/common/oauth/
    tokens``; another server (onsite, a test) at its own ``/login/common/oauth/tokens``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.endswith(".superoffice.com"):
        first, _, rest = host.partition(".")
        env = re.sub(r"\d+$", "", first) or first
        return f"https://{env}.{rest}/login/common/oauth/tokens"
    return f"{parts.scheme}://{parts.netloc}/login/common/oauth/tokens"


def _host_is_trusted(host: str, domains: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def _is_loopback(host: str) -> bool:
    return host.lower() in ("127.0.0.1", "localhost", "::1")
