"""Connectors to live systems: the contract (:mod:`.base`), export folders (:mod:`.folders`),
Tryton (:mod:`.tryton`) and SuperOffice (:mod:`.superoffice`). Opened by name through
:func:`erpdata.live.connections.open_connector`."""
