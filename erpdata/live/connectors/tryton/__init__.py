"""The Tryton ERP connector: :class:`TrytonConnector` (type ``tryton``), erpdata's connector
contract over Tryton's JSON-RPC (``docs/TRYTON.md``).

The connector is one public class made of four parts, each a module: :mod:`.transport`
(JSON-RPC, sessions, failures), :mod:`.tryton_setup` (the categories and relation types the
mapping needs, ``test_connection``'s checks, ``ensure_setup``), :mod:`.actor_mapping` (Tryton
records <-> actors, write values) and :mod:`.search_domains` (search domains, restrictions,
paging, reads); :mod:`.connector` ties them together. What callers use is re-exported here.
"""

from erpdata.live.connectors.tryton.actor_mapping import (
    ADDRESS_ROLES,
    COMPANY_CONTACTS,
    COMPANY_TYPES,
    CRM_PREFIX,
    PERSON_CONTACTS,
    TRYTON_ACTOR_TYPES,
)
from erpdata.live.connectors.tryton.connector import TrytonConnector
from erpdata.live.connectors.tryton.tryton_setup import (
    CUSTOMER_CATEGORY,
    DEFAULT_COUNTRIES,
    EMPLOYEE_OF,
    EMPLOYER_OF,
    NAME_OPTIONS,
    SETUP_BUTTON,
    SUPPLIER_CATEGORY,
)

__all__ = [
    "ADDRESS_ROLES",
    "COMPANY_CONTACTS",
    "COMPANY_TYPES",
    "CRM_PREFIX",
    "CUSTOMER_CATEGORY",
    "DEFAULT_COUNTRIES",
    "EMPLOYEE_OF",
    "EMPLOYER_OF",
    "NAME_OPTIONS",
    "PERSON_CONTACTS",
    "SETUP_BUTTON",
    "SUPPLIER_CATEGORY",
    "TRYTON_ACTOR_TYPES",
    "TrytonConnector",
]
