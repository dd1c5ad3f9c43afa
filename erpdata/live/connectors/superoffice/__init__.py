"""The SuperOffice CRM connector: :class:`SuperOfficeConnector` (type ``superoffice``), the CRM
side over SuperOffice's REST Web API and its ErpSync agent (``docs/SUPEROFFICE.md``).

The connector is one public class in :mod:`.superoffice_connector` (the contract's methods; its
docstring says why it is shaped as it is), over :mod:`.tenant_session` (the HTTP calls, the
tenant's host, renewal on a 401, waiting out ``Retry-After``), :mod:`.tenant_hosts` (origins,
trusted domains, the token endpoint), :mod:`.renewal` (:class:`OidcRefresh`, ``Retry-After``),
:mod:`.crm_records` (collections, entity properties, value conversions) and
:mod:`.erpsync_agent` (the ErpSync agent's vocabulary, :class:`SuperOfficeLink`).
What callers and tests use is re-exported here.
"""

from erpdata.live.connectors.superoffice.crm_records import COLLECTIONS, WRITABLE
from erpdata.live.connectors.superoffice.crm_records import _parse_datetime as _parse_datetime
from erpdata.live.connectors.superoffice.erpsync_agent import (
    ERP_ACTOR_TYPE,
    TABLE_ID,
    SuperOfficeLink,
)
from erpdata.live.connectors.superoffice.renewal import OidcRefresh, RenewalError
from erpdata.live.connectors.superoffice.renewal import _retry_after as _retry_after
from erpdata.live.connectors.superoffice.superoffice_connector import (
    OPTIONS,
    SuperOfficeConnector,
)
from erpdata.live.connectors.superoffice.tenant_hosts import (
    DEFAULT_TRUSTED_DOMAINS,
    Origin,
    origin_of,
    token_url_for,
)

__all__ = [
    "COLLECTIONS",
    "DEFAULT_TRUSTED_DOMAINS",
    "ERP_ACTOR_TYPE",
    "OPTIONS",
    "TABLE_ID",
    "WRITABLE",
    "OidcRefresh",
    "Origin",
    "RenewalError",
    "SuperOfficeConnector",
    "SuperOfficeLink",
    "origin_of",
    "token_url_for",
]
