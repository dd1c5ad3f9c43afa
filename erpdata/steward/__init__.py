"""Stewardship: what a steward decides about the suggestions and what follows from it.

:mod:`.decisions` (accept, reject, skip, create; the review queue), :mod:`.states` (where each
suggestion stands, stored), :mod:`.review` (the field diff and picks), :mod:`.explain` (why a
pair scored as it did), :mod:`.search` (the Connect dialog's searches), :mod:`.commit` (batches,
undo, disconnect), :mod:`.reports` (links, unmatched, conflicts, change sets), and the settings
they read: :mod:`.mappings` (field mappings, exchanged as TOML) and :mod:`.thresholds` (the
band limits a steward may fix).
"""
