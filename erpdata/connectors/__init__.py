"""Connectors to live systems: the contract (:mod:`.base`), export folders (:mod:`.files`),
Tryton (:mod:`.tryton`) and SuperOffice (:mod:`.superoffice`). Opened by name through
:func:`erpdata.connections.open_connector`."""
