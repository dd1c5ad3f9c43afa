"""Matching: explainable suggestions of which ERP record each CRM record is.

``match_frames`` matches any two tables (it is what ``erpdata match-files`` runs);
``match_workspace`` matches one kind inside a workspace and stores the suggestions.
"""

from erpdata.matching.engine import MatchResult, match_frames
from erpdata.matching.on_files import match_files
from erpdata.matching.runs import COMPARISONS, match_workspace, suggestions
from erpdata.matching.spec import TYPES, Comparison, infer_comparisons, parse_compare

__all__ = [
    "COMPARISONS",
    "TYPES",
    "Comparison",
    "MatchResult",
    "infer_comparisons",
    "match_files",
    "match_frames",
    "match_workspace",
    "parse_compare",
    "suggestions",
]
