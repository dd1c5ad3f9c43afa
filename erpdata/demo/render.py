"""How the demo's atoms become export text: DuckDB macros and one SQL projection per table.

Why SQL: strings are assembled by DuckDB projections over the generator's Arrow atoms (random
numbers and dictionary-encoded words), which keep row order and take seconds for a million
records; a Python loop over records would take minutes.

What is here, in order:

* :data:`MACROS`: each country's formats (phone numbers, postcodes, street lines, organisation
  and VAT numbers as written) and the typo model: ``typo_at``/``typo`` swap, drop or double a
  letter or spell a name in ASCII only (``translit``), ``abbr_street`` shortens "gata" to "gt.".
* The company name and its slug (:data:`SLUG_SQL`, from the atoms :data:`NAME_COLUMNS` and
  :data:`SLUG_COLUMNS`) and the company's domain.
* Per output table, the SQL that applies that side's drift choices (the generator's ``x_*``
  columns: which legal form is written, typo, case, truncation, moved address, missing
  fields, ...) and returns canonical column names, values exactly as the export writes them.

The lists quoted into the SQL (departments, statuses, actor types) come from the package's own
data files and :mod:`erpdata.schema`, quoted by :func:`~erpdata.sql.sql_list`; nothing comes
from a user or an input file (ruff S608).
"""

from __future__ import annotations

from erpdata.demo.vocabulary import CRM_DEPARTMENTS, STATUS_CRM, STATUS_ERP
from erpdata.schema import ACTOR_TYPES
from erpdata.sql import sql_list

_ACTOR_TYPES = ACTOR_TYPES["company"]  # customer, supplier, partner: actor index 0, 1, 2

# =============================================================================================
# DuckDB macros: formats per country, drift operations
# =============================================================================================

MACROS = r"""
CREATE OR REPLACE TEMP MACRO translit(s) AS strip_accents(replace(replace(replace(replace(
    replace(replace(s, 'ø', 'o'), 'Ø', 'O'), 'æ', 'ae'), 'Æ', 'Ae'), 'ß', 'ss'), 'đ', 'd'));
CREATE OR REPLACE TEMP MACRO grp(s, a, b, c) AS concat_ws(' ', nullif(substr(s, 1, a), ''),
    nullif(substr(s, a + 1, b), ''), nullif(substr(s, a + b + 1, c), ''),
    nullif(substr(s, a + b + c + 1), ''));
CREATE OR REPLACE TEMP MACRO sub_grp(cc, s) AS CASE
    WHEN cc = 'SE' THEN CASE length(s) WHEN 8 THEN grp(s, 3, 3, 2) WHEN 7 THEN grp(s, 3, 2, 2)
                                       WHEN 6 THEN grp(s, 2, 2, 2) ELSE grp(s, 3, 2, 9) END
    WHEN cc = 'FI' THEN CASE length(s) WHEN 8 THEN grp(s, 4, 4, 0) WHEN 7 THEN grp(s, 3, 4, 0)
                                       ELSE grp(s, 3, 3, 0) END
    WHEN cc IN ('NL', 'UK') THEN CASE length(s) WHEN 8 THEN grp(s, 4, 4, 0)
                                                WHEN 7 THEN grp(s, 3, 4, 0) ELSE s END
    ELSE s END;
CREATE OR REPLACE TEMP MACRO nordic8(n) AS CASE WHEN left(n, 1) IN ('4', '9')
    THEN grp(n, 3, 2, 3) ELSE grp(n, 2, 2, 2) END;
-- How a phone's digits are grouped: NO/DK the whole 8 digits, elsewhere the subscriber part.
-- Call with columns (a macro repeats its arguments), then pass the result to phone_fmt.
CREATE OR REPLACE TEMP MACRO phone_grp(cc, area, sub) AS CASE cc
    WHEN 'NO' THEN nordic8(area || sub) WHEN 'DK' THEN grp(area || sub, 2, 2, 2)
    ELSE sub_grp(cc, sub) END;
-- Format variant v (0..3) of a phone: area (no trunk 0), subscriber digits, phone_grp.
CREATE OR REPLACE TEMP MACRO phone_fmt(cc, area, sub, g, v) AS CASE cc
    WHEN 'NO' THEN CASE v WHEN 0 THEN g WHEN 1 THEN '+47 ' || area || sub
                          WHEN 2 THEN area || sub ELSE '+47 ' || g END
    WHEN 'DK' THEN CASE v WHEN 0 THEN g WHEN 1 THEN '+45 ' || g
                          WHEN 2 THEN area || sub ELSE '+45' || area || sub END
    WHEN 'SE' THEN CASE v WHEN 0 THEN '0' || area || '-' || g WHEN 1 THEN '+46 ' || area || ' ' || g
                          WHEN 2 THEN '0' || area || sub ELSE '+46' || area || sub END
    WHEN 'FI' THEN CASE v WHEN 0 THEN '0' || area || ' ' || g
                          WHEN 1 THEN '+358 ' || area || ' ' || g
                          WHEN 2 THEN '0' || area || sub ELSE '+358 ' || area || sub END
    WHEN 'NL' THEN CASE v WHEN 0 THEN '0' || area || '-' || sub
                          WHEN 1 THEN '+31 (0)' || area || ' ' || g
                          WHEN 2 THEN '0' || area || ' ' || g ELSE '+31' || area || sub END
    WHEN 'DE' THEN CASE v WHEN 0 THEN '0' || area || ' ' || sub
                          WHEN 1 THEN '+49 ' || area || ' ' || sub
                          WHEN 2 THEN '0' || area || '/' || sub
                          ELSE '+49 (0)' || area || ' ' || sub END
    ELSE CASE v WHEN 0 THEN '0' || area || ' ' || g WHEN 1 THEN '+44 ' || area || ' ' || g
                WHEN 2 THEN '+44 (0)' || area || ' ' || g ELSE '0' || area || sub END
    END;
CREATE OR REPLACE TEMP MACRO org_fmt(cc, n, sfx, style) AS CASE cc
    WHEN 'NO' THEN CASE style WHEN 0 THEN n WHEN 1 THEN grp(n, 3, 3, 3)
                              WHEN 2 THEN 'NO' || n || 'MVA'
                              ELSE 'NO ' || grp(n, 3, 3, 3) || ' MVA' END
    WHEN 'SE' THEN CASE style WHEN 0 THEN n WHEN 1 THEN substr(n, 1, 6) || '-' || substr(n, 7)
                              ELSE 'SE' || n || '01' END
    WHEN 'DK' THEN CASE style WHEN 0 THEN n WHEN 1 THEN grp(n, 2, 2, 2)
                              WHEN 2 THEN 'DK' || n ELSE 'DK-' || n END
    WHEN 'FI' THEN CASE style WHEN 2 THEN 'FI' || n WHEN 3 THEN 'FI ' || n
                              ELSE substr(n, 1, 7) || '-' || substr(n, 8) END
    WHEN 'NL' THEN CASE style WHEN 1 THEN 'NL ' || substr(n, 1, 4) || '.' || substr(n, 5, 2) || '.'
                                          || substr(n, 7) || '.' || sfx
                              ELSE 'NL' || n || sfx END
    WHEN 'DE' THEN CASE style WHEN 1 THEN 'DE ' || grp(n, 3, 3, 3) ELSE 'DE' || n END
    ELSE CASE style WHEN 1 THEN 'GB ' || grp(n, 3, 4, 2) WHEN 3 THEN grp(n, 3, 4, 2)
                    ELSE 'GB' || n END
    END;
CREATE OR REPLACE TEMP MACRO pc_fmt(cc, num, let, outward) AS CASE cc
    WHEN 'NO' THEN lpad(num::VARCHAR, 4, '0')
    WHEN 'DK' THEN num::VARCHAR
    WHEN 'SE' THEN substr(num::VARCHAR, 1, 3) || ' ' || substr(num::VARCHAR, 4, 2)
    WHEN 'NL' THEN num::VARCHAR || ' ' || let
    WHEN 'UK' THEN outward || ' ' || let
    ELSE lpad(num::VARCHAR, 5, '0') END;
CREATE OR REPLACE TEMP MACRO street_line(cc, street, no, unit) AS CASE cc
    WHEN 'UK' THEN no::VARCHAR || unit || ' ' || street
    ELSE street || ' ' || no::VARCHAR || unit END;
CREATE OR REPLACE TEMP MACRO typo_at(s, op, p) AS CASE op
    WHEN 1 THEN substr(s, 1, p - 1) || substr(s, p + 1, 1) || substr(s, p, 1) || substr(s, p + 2)
    WHEN 2 THEN substr(s, 1, p - 1) || substr(s, p + 1)
    WHEN 3 THEN substr(s, 1, p) || substr(s, p)
    WHEN 4 THEN translit(s)
    ELSE s END;
CREATE OR REPLACE TEMP MACRO typo(s, op, u) AS
    typo_at(s, op, 2 + CAST(floor(u * greatest(length(s) - 2, 1)) AS INTEGER));
CREATE OR REPLACE TEMP MACRO abbr_street(s) AS regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(s,
    '(gata|gate|gaten)\b', 'gt.'), '(veien|vegen)\b', 'vn.'), '(gatan|gade)\b', 'g.'),
    '(vägen|vej|vejen)\b', 'v.'), '(straße|strasse|straat)\b', 'str.'),
    ' (Road)\b', ' Rd'), ' (Street)\b', ' St');
CREATE OR REPLACE TEMP MACRO dmy(d) AS strftime(d, '%d.%m.%Y');
CREATE OR REPLACE TEMP MACRO day_of(days) AS DATE '2019-01-01' + CAST(days AS INTEGER);
CREATE OR REPLACE TEMP MACRO iso_ts(secs) AS
    strftime(TIMESTAMP '2016-01-01' + to_seconds(CAST(secs AS BIGINT)), '%Y-%m-%dT%H:%M:%S');
"""

# =============================================================================================
# The record tables
# =============================================================================================

# SQL snippets over entity atoms: the company's name (without legal form) and its slug.
_BASE_SQL = """CASE special
    WHEN 1 THEN sur1 || ' & Co "' || ind || '"'
    WHEN 2 THEN brand_pre || brand_suf || '; ' || ind
    ELSE CASE pattern WHEN 0 THEN sur1 || ' ' || ind
                      WHEN 1 THEN place || ' ' || ind
                      WHEN 2 THEN sur1 || ' ' || conj || ' ' || sur2
                      WHEN 3 THEN brand_pre || brand_suf || ' ' || ind
                      WHEN 4 THEN brand_pre || brand_suf
                      WHEN 5 THEN region || ' ' || ind
                      ELSE ind || ' ' || sur1 END
         || CASE WHEN extra = 1 THEN ' ' || holding
                 WHEN extra = 2 AND pattern <> 1 THEN ' ' || city ELSE '' END
    END"""
SLUG_SQL = """CASE special
    WHEN 1 THEN sur1_s || 'co' || ind_s
    WHEN 2 THEN brand_pre_s || brand_suf || ind_s
    ELSE CASE pattern WHEN 0 THEN sur1_s || ind_s
                      WHEN 1 THEN place_s || ind_s
                      WHEN 2 THEN sur1_s || conj || sur2_s
                      WHEN 3 THEN brand_pre_s || brand_suf || ind_s
                      WHEN 4 THEN brand_pre_s || brand_suf
                      WHEN 5 THEN region_s || ind_s
                      ELSE ind_s || sur1_s END
         || CASE WHEN extra = 1 THEN lower(holding)
                 WHEN extra = 2 AND pattern <> 1 THEN city_s ELSE '' END
    END"""
NAME_COLUMNS = ("special", "pattern", "extra", "sur1", "sur2", "ind", "place", "conj",
                "brand_pre", "brand_suf", "region", "holding", "city")
SLUG_COLUMNS = ("special", "pattern", "extra", "sur1_s", "sur2_s", "ind_s", "place_s", "conj",
                "brand_pre_s", "brand_suf", "region_s", "holding", "city_s", "tld", "slug_n")
#: The company's own domain name: two companies that happen to share a name (and so a slug)
#: still have different domains, as in life (``hansenbygg.no``, ``hansenbygg2.no``).
_DOMAIN_SQL = (f"left({SLUG_SQL}, 30) || CASE WHEN slug_n > 0 THEN slug_n::VARCHAR ELSE '' END"
               " || '.' || tld")

#: Companies: canonical strings (e), then drift of name and address (a, b, c).
#: x_form: 0 as the CRM writes it, 1 abbreviation, 2 dropped, 3 changed, 4 variant, 5 long.
#: x_typo: 0 none, 1 swap, 2 drop, 3 double a letter, 4 ASCII only. x_case: 1 upper, 2 lower.
_COMPANY_CTE = f"""
WITH e AS (
    SELECT *, {_BASE_SQL} AS base, left({SLUG_SQL}, 30) AS slug, {_DOMAIN_SQL} AS domain,
           lpad(org::VARCHAR, org_width, '0') AS org_digits,
           street_line(cc, street, no, unit) AS street1, pc_fmt(cc, pc_num, pc_let, outward) AS pc,
           street_line(cc, alt_street, alt_no, alt_unit) AS alt_street1,
           pc_fmt(cc, alt_pc_num, alt_pc_let, alt_outward) AS alt_pc
    FROM src),
a AS (
    SELECT *, CASE WHEN x_amp THEN replace(base, ' ' || conj || ' ', ' & ') ELSE base END AS b1,
        CASE x_form WHEN 0 THEN CASE WHEN crm_long THEN form_long ELSE form_abbr END
                    WHEN 1 THEN form_abbr WHEN 2 THEN NULL WHEN 3 THEN form_alt
                    WHEN 4 THEN form_var ELSE form_long END AS ft,
        CASE WHEN x_phone_alt THEN alt_sub ELSE sub END::VARCHAR AS ph,
        CASE WHEN x_move THEN alt_street1 ELSE street1 END AS s1,
        CASE WHEN x_move THEN alt_pc ELSE pc END AS s_pc,
        CASE WHEN x_move THEN alt_city ELSE city END AS s_city,
        CASE WHEN x_move THEN alt_street1 WHEN box THEN po_box || ' ' || box_no::VARCHAR
             ELSE street1 END AS p1,
        CASE WHEN x_move THEN alt_pc WHEN box THEN pc_fmt(cc, box_pc_num, box_let, outward)
             ELSE pc END AS p_pc
    FROM e),
b AS (SELECT *, concat_ws(' ', typo(b1, x_typo, x_typo_u), ft) AS n1,
             phone_grp(cc, area, ph) AS ph_g FROM a),
c AS (SELECT *, CASE x_case WHEN 1 THEN upper(n2) WHEN 2 THEN lower(n2) ELSE n2 END AS name
      FROM (SELECT *, CASE WHEN x_trunc THEN left(n1, 30) ELSE n1 END AS n2 FROM b))
"""  # noqa: S608 - built from this module's constant SQL fragments

CRM_COMPANY_SQL = _COMPANY_CTE + f"""
SELECT id::VARCHAR AS id, name,
    CASE x_dept WHEN 0 THEN NULL WHEN 7 THEN 'Avd. ' || city
         ELSE list_extract({sql_list(CRM_DEPARTMENTS)}, x_dept) END AS department,
    CASE WHEN NOT x_org_miss THEN org_fmt(cc, org_digits, org_sfx, x_org_style) END AS vatno,
    CASE WHEN x_code THEN upper(left(split_part(base, ' ', 1), 3)
                                || left(split_part(base, ' ', 2), 3)) END AS number1,
    CASE WHEN x_num AND account > 0 THEN account::VARCHAR END AS number2,
    CASE WHEN NOT x_phone_miss THEN phone_fmt(cc, area, ph, ph_g, x_phone_v) END AS phone,
    CASE WHEN NOT x_email_miss THEN email_local || '@' || domain END AS email,
    CASE WHEN NOT x_web_miss THEN CASE web_style WHEN 0 THEN 'www.' || domain
         WHEN 1 THEN 'https://www.' || domain WHEN 2 THEN 'http://' || domain END END AS url,
    CASE WHEN NOT x_street_miss THEN s1 END AS streetad1,
    CASE WHEN NOT x_street_miss THEN s_pc END AS streetzip,
    CASE WHEN NOT x_street_miss THEN s_city END AS streetcity,
    CASE WHEN NOT x_postal_miss THEN p1 END AS postalad1,
    CASE WHEN NOT x_postal_miss THEN p_pc END AS postalzip,
    CASE WHEN NOT x_postal_miss THEN s_city END AS postalcity,
    crm_country AS country, category, x_contact AS our_contact,
    dmy(day_of(x_reg_days)) AS registered
FROM c
"""  # noqa: S608 - this module's SQL fragments, sql_list of the package's own lists

ERP_COMPANY_SQL = _COMPANY_CTE + f"""
SELECT id::VARCHAR AS id,
    list_extract({sql_list(_ACTOR_TYPES)}, actor + 1) AS actor_type, name,
    CASE WHEN NOT x_org_miss THEN org_fmt(cc, org_digits, org_sfx, x_org_style) END AS vatno,
    upper(left(slug, 10)) AS number1,
    account::VARCHAR AS number2,
    CASE WHEN NOT x_phone_miss THEN phone_fmt(cc, area, ph, ph_g, x_phone_v) END AS phone,
    CASE x_email WHEN 0 THEN email_local || '@' || domain
                 WHEN 1 THEN invoice_local || '@' || domain END AS email,
    CASE x_web WHEN 0 THEN domain WHEN 1 THEN 'www.' || domain END AS url,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_abbr THEN abbr_street(s1) ELSE s1 END END
        AS streetad1,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_pc_compact AND cc IN ('SE', 'NL')
         THEN replace(s_pc, ' ', '') ELSE s_pc END END AS streetzip,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_city_upper THEN upper(s_city)
         ELSE s_city END END AS streetcity,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_abbr THEN abbr_street(p1) ELSE p1 END END
        AS postalad1,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_pc_compact AND cc IN ('SE', 'NL')
         THEN replace(p_pc, ' ', '') ELSE p_pc END END AS postalzip,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_city_upper THEN upper(s_city)
         ELSE s_city END END AS postalcity,
    iso AS country,
    CASE WHEN erp_group <> 'Standard' THEN erp_group WHEN cc = 'NO' THEN 'Domestic'
         ELSE 'Export' END AS category,
    currency, x_terms AS payment_terms, iso_ts(x_modified) AS last_modified
FROM c
"""  # noqa: S608 - this module's SQL fragments, sql_list of the package's own lists

_PERSON_CTE = f"""
WITH p AS (
    SELECT *, {_DOMAIN_SQL} AS domain,
        CASE email_style
            WHEN 0 THEN first_s || '.' || middle_nl_s || last_s
            WHEN 1 THEN left(first_s, 1) || middle_nl_s || last_s
            WHEN 2 THEN first_s
            WHEN 3 THEN left(first_s, 1) || left(middle_s, 1) || left(last_s, 1) END AS local
    FROM (SELECT *, CASE WHEN cc = 'NL' THEN middle_s ELSE '' END AS middle_nl_s FROM src)),
ph AS (
    SELECT *, phone_grp(cc, area, d) AS d_g, phone_grp(cc, mobile_area, m) AS m_g
    FROM (SELECT *, direct::VARCHAR AS d, mobile::VARCHAR AS m FROM p))
"""  # noqa: S608 - built from this module's constant SQL fragments

CRM_PERSON_SQL = _PERSON_CTE + """
SELECT id::VARCHAR AS id, company_id::VARCHAR AS company_id, first AS firstname,
    nullif(middle, '') AS middlename, last AS lastname, title, position,
    local || '@' || domain AS email,
    CASE WHEN has_direct THEN phone_fmt(cc, area, d, d_g, x_phone_v) END AS phone_direct,
    CASE WHEN has_mobile THEN phone_fmt(cc, mobile_area, m, m_g, x_phone_v) END AS phone_mobile,
    dmy(day_of(x_reg_days)) AS registered
FROM ph
"""

#: ERP persons: no middle name column (NL tussenvoegsel joins the surname, Nordic middle names
#: join the first name or vanish); x_first: 1 + middle, 2 initial, 3 typo; x_last: 1 typo,
#: 2 upper, 3 ASCII; x_email: 1 Capitalised, 2 initials, 3 none; x_mobile: 1 changed, 2 none.
ERP_PERSON_SQL = _PERSON_CTE + f"""
, q AS (
    SELECT *, CASE WHEN cc = 'NL' THEN first ELSE CASE x_first
            WHEN 1 THEN concat_ws(' ', first, nullif(middle, ''))
            WHEN 2 THEN left(first, 1) || '.'
            WHEN 3 THEN typo(first, 1, x_u) ELSE first END END AS f,
        CASE WHEN cc = 'NL' THEN concat_ws(' ', nullif(middle, ''), last) ELSE last END AS l
    FROM ph)
SELECT id::VARCHAR AS id, parent_key::VARCHAR AS parent_key,
    list_extract({sql_list(_ACTOR_TYPES)}, parent_actor + 1) AS parent_actor_type,
    f AS firstname,
    CASE x_last WHEN 1 THEN typo(l, 1 + CAST(floor(x_u * 3) AS INTEGER), x_u)
                WHEN 2 THEN upper(l) WHEN 3 THEN translit(l) ELSE l END AS lastname,
    CASE WHEN NOT x_title_miss THEN title END AS title,
    CASE x_email WHEN 0 THEN local || '@' || domain
        WHEN 1 THEN regexp_replace(translit(first), '[^A-Za-z0-9]', '', 'g') || '.'
                    || regexp_replace(translit(l), '[^A-Za-z0-9]', '', 'g') || '@' || domain
        WHEN 2 THEN left(first_s, 1) || left(last_s, 1) || '@' || domain END AS email,
    CASE WHEN has_direct AND NOT x_direct_miss THEN phone_fmt(cc, area, d, d_g, x_phone_v) END
        AS phone_direct,
    CASE WHEN has_mobile AND x_mobile < 2 THEN phone_fmt(cc, mobile_area, m, m_g, x_phone_v) END
        AS phone_mobile,
    iso_ts(x_modified) AS last_modified
FROM q
"""  # noqa: S608 - this module's SQL fragments, sql_list of the package's own lists

_PROJECT_CTE = f"""
WITH j AS (
    SELECT *, word || ' ' || object || CASE WHEN with_year THEN ' ' || year::VARCHAR ELSE ''
              END AS pname,
           year::VARCHAR || '-' || printf('%06d', seq) AS pnumber,
           word || ' av ' || object || ' hos ' || {_BASE_SQL} || '.' AS ptext
    FROM src)
"""  # noqa: S608 - built from this module's constant SQL fragments

CRM_PROJECT_SQL = _PROJECT_CTE + f"""
SELECT id::VARCHAR AS id, company_id::VARCHAR AS company_id, pname AS name,
    CASE WHEN x_erp_number THEN pnumber ELSE (10000 + id)::VARCHAR END AS number,
    CASE WHEN x_text THEN ptext END AS text,
    dmy(day_of(end_day)) AS enddate,
    list_extract({sql_list(STATUS_CRM)}, status + 1) AS status,
    ptype AS project_type, manager AS project_manager
FROM j
"""  # noqa: S608 - this module's SQL fragments, sql_list of the package's own lists

#: x_name: 1 number prefix, 2 upper, 3 typo, 4 cut to 20 characters.
ERP_PROJECT_SQL = _PROJECT_CTE + f"""
SELECT id::VARCHAR AS id, parent_key::VARCHAR AS parent_key,
    list_extract({sql_list(_ACTOR_TYPES)}, parent_actor + 1) AS parent_actor_type,
    pnumber AS number,
    CASE x_name WHEN 1 THEN pnumber || ' ' || pname WHEN 2 THEN upper(pname)
                WHEN 3 THEN typo(pname, 1, x_u) WHEN 4 THEN left(pname, 20) ELSE pname END
        AS name,
    CASE WHEN x_text THEN ptext END AS text,
    strftime(day_of(end_day + x_shift), '%Y-%m-%d') AS enddate,
    list_extract({sql_list(STATUS_ERP)}, CASE WHEN x_status THEN 3 ELSE status + 1 END)
        AS status,
    budget::VARCHAR AS budget,
    iso_ts(x_modified) AS last_modified
FROM j
"""  # noqa: S608 - this module's SQL fragments, sql_list of the package's own lists



#: The truth: which CRM record is which ERP record.
TRUTH_SQL = ("SELECT kind::VARCHAR AS kind, crm_id::VARCHAR AS crm_id, erp_actor_type::VARCHAR"
             " AS erp_actor_type, erp_id::VARCHAR AS erp_id FROM src")
