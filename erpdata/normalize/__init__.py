"""Bulk normalisers: one call per column turns raw CRM/ERP values into comparable keys.

Why this package exists: a CRM and an ERP write the same fact differently ("Hansen & Co AS" /
"HANSEN OG CO. AKSJESELSKAP", "+47 22 33 44 55" / "22334455", "923 609 016" /
"NO 923 609 016 MVA", "Storgata 1B" / "Storgt. 1 b", "Norge" / "NO"). The matching engine
(:mod:`erpdata.matching`) calls these functions once per column and stores the results, so that
blocking and scoring compare keys, not raw strings. Every function is a pure function of its
inputs: the same value (and country) always gives the same key, whichever side it comes from.

The public names are re-exported here (``from erpdata import normalize as nz``; ``nz.phone``).
Which module holds what:

* ``arrays``: the Arrow plumbing all of them share; the conventions (input, output, country
  arguments) and how they stay fast.
* ``folding``: :func:`fold_text`, the folding the name, street, city and country keys build on.
* ``country_codes``: :func:`country_code`, and the country arguments of the others.
* ``company_names``: :func:`company_name`, :data:`LEGAL_FORMS`.
* ``person_names``: :func:`person_name`.
* ``phone_numbers``: :func:`phone`, :func:`phone_digits`, :func:`phone_and_digits`.
* ``email_addresses``: :func:`email`, :func:`email_domain`, :func:`email_and_domain`,
  :func:`is_free_mail_domain`.
* ``web_addresses``: :func:`url_domain`.
* ``org_numbers``: :func:`org_number`.
* ``postal_addresses``: :func:`postcode`, :func:`street`, :func:`city`.

Imports go one way: ``arrays`` <- ``folding`` <- ``country_codes`` <- the other modules, and no
two of those import each other.
"""

from __future__ import annotations

from erpdata.normalize.company_names import LEGAL_FORMS, company_name
from erpdata.normalize.country_codes import CountryArg as CountryArg
from erpdata.normalize.country_codes import country_code
from erpdata.normalize.email_addresses import (
    email,
    email_and_domain,
    email_domain,
    is_free_mail_domain,
)
from erpdata.normalize.folding import fold_text
from erpdata.normalize.org_numbers import org_number
from erpdata.normalize.person_names import person_name
from erpdata.normalize.phone_numbers import phone, phone_and_digits, phone_digits
from erpdata.normalize.postal_addresses import city, postcode, street
from erpdata.normalize.web_addresses import url_domain

__all__ = [
    "LEGAL_FORMS",
    "city",
    "company_name",
    "country_code",
    "email",
    "email_and_domain",
    "email_domain",
    "fold_text",
    "is_free_mail_domain",
    "org_number",
    "person_name",
    "phone",
    "phone_and_digits",
    "phone_digits",
    "postcode",
    "street",
    "url_domain",
]
