"""Live systems: named connections (:mod:`.connections`), the connectors they open
(:mod:`.connectors`), Sync now (:mod:`.sync`: push the queued actions, pull what changed) and
adopting the links a CRM already holds (:mod:`.adopt`).
"""
