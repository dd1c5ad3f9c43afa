"""Ingest, the first layer of the flow: export files in, workspace records out.

:mod:`.sources` reads a file (format, encoding, delimiter) into a staging view of raw strings,
through one reader per format (:mod:`.delimited_text`, :mod:`.spreadsheets`,
:mod:`.parquet_files`, :mod:`.json_documents`) filling :mod:`.staging`'s table;
:mod:`.columns` maps its headers to the canonical fields; :mod:`.proposals` proposes a key or a
parent no header named; :mod:`.load` validates and applies it in one transaction, with the
change log (:func:`~erpdata.ingest.load.load_file`).
"""
