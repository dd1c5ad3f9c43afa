"""Ingest, the first layer of the flow: export files in, workspace records out.

:mod:`.sources` reads a file (format, encoding, delimiter) into a staging view of raw strings;
:mod:`.columns` maps its headers to the canonical fields; :mod:`.proposals` proposes a key or a
parent no header named; :mod:`.load` validates and applies it in one transaction, with the
change log (:func:`~erpdata.ingest.load.load_file`).
"""
