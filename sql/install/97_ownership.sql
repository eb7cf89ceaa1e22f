
-- _object_kinds lists every kind of owned object: the table that holds it
-- and the column that names it (its owner is that table's `owner` column).
-- Each subsystem adds its kinds here; mlops.set_owner() and the tests read it.
CREATE FUNCTION mlops._object_kinds()
    RETURNS TABLE (kind text, relation text, key_column text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.kind, k.relation, k.key_column
      FROM (VALUES
            ('none', 'none', 'none'),
            ('monitor', 'mlops.monitors', 'model'),
            ('drift_reference', 'mlops.drift_references', 'name'),
            ('alert_rule', 'mlops.alert_rules', 'rule_id'),
            ('alert', 'mlops.alerts', 'alert_id'),
            ('adwin', 'mlops.adwin_detectors', 'name'),
            ('experiment', 'mlops.experiments', 'name'),
            ('run', 'mlops.runs', 'run_id'),
            ('model', 'mlops.models', 'name'),
            -- jobs: job names are unique per owner only, so a job is named by its job_id
            ('job', 'mlops.jobs', 'job_id'),
            ('deployment', 'mlops.deployments', 'id')
           ) AS k (kind, relation, key_column)
     WHERE k.kind OPERATOR(pg_catalog.<>) 'none'
$$;
REVOKE ALL ON FUNCTION mlops._object_kinds() FROM PUBLIC;

-- set_owner hands one object over to another role.  The actor must be
-- allowed to change the object (a member of its owner, or of the extension
-- owner) and must be a member of the new owner role, as ALTER ... OWNER TO
-- requires.
CREATE FUNCTION mlops._impl_set_owner(kind text, name text, role name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k record;
    old_owner regrole;
    new_owner oid;
BEGIN
    IF kind IS NULL OR name IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'kind, name and role must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO k FROM mlops._object_kinds() o WHERE o.kind OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown object kind "%"', pg_catalog.left(kind, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Kinds are: %s.',
                      (SELECT pg_catalog.string_agg(o.kind, ', ' ORDER BY o.kind) FROM mlops._object_kinds() o));
    END IF;
    SELECT r.oid INTO new_owner FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', pg_catalog.left(role, 100)
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format('SELECT owner FROM %s WHERE %I::pg_catalog.text OPERATOR(pg_catalog.=) $1 FOR UPDATE',
                              k.relation, k.key_column)
       INTO old_owner USING name;
    IF old_owner IS NULL THEN
        RAISE EXCEPTION '% "%" does not exist', kind, pg_catalog.left(name, 200)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM mlops._require_owner(kind, name, old_owner);
    IF NOT mlops._may_change(new_owner::regrole) THEN
        RAISE EXCEPTION 'must be a member of role "%" to hand it a %', role, kind
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'As with ALTER ... OWNER TO, the new owner must be a role you belong to.';
    END IF;
    EXECUTE pg_catalog.format('UPDATE %s SET owner = $2 WHERE %I::pg_catalog.text OPERATOR(pg_catalog.=) $1',
                              k.relation, k.key_column)
       USING name, new_owner::regrole;
    PERFORM mlops._audit_event('ownership.set', kind, name,
        pg_catalog.jsonb_build_object('from', old_owner::pg_catalog.text, 'to', role));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_owner(text, text, name) FROM PUBLIC;
CREATE FUNCTION mlops.set_owner(kind text, name text, role name) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_owner(text, text, name) FROM PUBLIC;
