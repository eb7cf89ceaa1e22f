
-- Ownership (docs/security.md#ownership): every mlops object has an owner
-- role, stored in a column `owner regrole` of its table.  Changing or
-- dropping the object requires that the acting role (mlops.current_actor())
-- be a member of that role or of the extension owner's role; these two
-- functions are the one place that rule is written (src/common/security.c).

-- _require_owner raises insufficient_privilege (42501) unless the actor may
-- change the object of this kind and name.
CREATE FUNCTION mlops._require_owner(kind text, name text, owner regrole) RETURNS void
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_require_owner';
REVOKE ALL ON FUNCTION mlops._require_owner(text, text, regrole) FROM PUBLIC;

-- _may_change answers the same question as a boolean, for filters.
CREATE FUNCTION mlops._may_change(owner regrole) RETURNS boolean
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_may_change';
REVOKE ALL ON FUNCTION mlops._may_change(regrole) FROM PUBLIC;
