
-- Capabilities (docs/security.md#capabilities): documented bundles of
-- privileges granted in one call.  A bundle names functions (every overload
-- of the name) and relations (SELECT); every bundle includes USAGE on the
-- schema.  test/pgtap/capabilities.sql checks, from pg_proc, that every
-- public mlops function is in the admin bundle and that a role given a
-- bundle can execute exactly that bundle's functions.

CREATE TABLE mlops.capability_grants (
    role        regrole NOT NULL,
    capability  text NOT NULL,
    granted_by  name NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, capability)
);
REVOKE ALL ON mlops.capability_grants FROM PUBLIC;

-- _capability_objects lists each bundle's functions and relations.
CREATE FUNCTION mlops._capability_objects()
    RETURNS TABLE (capability text, object_type text, object_name text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH reader (name) AS (VALUES
        ('predict'), ('predict_proba'), ('predict_label'), ('predict_batch'), ('predict_table'),
        ('predict_proba_table'),
        ('model_info'), ('model_schema'), ('resolve_model'), ('compare_runs'),
        ('current_metrics'), ('model_metrics'), ('health'), ('ready'), ('current_actor'),
        ('psi'), ('kl_divergence'), ('js_distance'), ('wasserstein'), ('ks_test'),
        ('chi_square_test'), ('adwin'), ('next_runs'), ('alert'), ('version'),
        ('predict_detail'), ('deployment_status'),
        ('dashboard_html'), ('_dashboard_activity'), ('_dashboard_rows'), ('model_report'),
        ('artifacts'), ('get_artifact'),
        -- A/B tests: what an application calls (assignment, prediction and
        -- conversions write only the test's own per-user rows) and the reads
        ('ab_assign'), ('ab_predict'), ('record_conversion'), ('ab_results'), ('ab_test_health'),
        ('feature_set_info'), ('get_online_features'), ('historical_features_sql'),
        ('_feature_ambiguous'), ('predict_entity'), ('predict_entity_detail'),
        ('validate_input')),
    reader_rel (name) AS (VALUES
        ('experiments'), ('runs'), ('run_metrics'), ('run_latest_metrics'), ('models'),
        ('model_aliases'), ('dashboard'), ('prediction_stats'), ('training_progress'),
        ('deployments'), ('deployment_events'), ('validations'), ('ab_tests'), ('feature_sets'), ('training_sets')),
    owner_fns (name) AS (VALUES ('set_owner'), ('audit'), ('audit_events')),
    -- row-level security shows a role the rows of the roles it belongs to
    scientist_rel (name) AS (VALUES ('pipeline_runs')),
    operator_rel (name) AS (VALUES ('jobs'), ('job_runs'), ('pipeline_runs'), ('api_keys')),
    scientist (name) AS (VALUES
        ('create_experiment'), ('start_run'), ('log_params'), ('log_metrics'), ('set_tags'),
        ('end_run'), ('train'), ('import_model'), ('export_model'), ('drop_model_version'),
        ('set_alias'), ('drop_alias'), ('detect_drift'), ('_detect_drift_distributions'), ('set_drift_reference'),
        ('set_drift_reference_from_model'), ('drop_drift_reference'), ('create_adwin'),
        ('update_adwin'), ('drop_adwin'), ('training_pipeline'), ('data_pipeline'),
        ('record_prediction'), ('record_actual'), ('drift_report'), ('log_artifact'),
        ('register_feature_set'), ('drop_feature_set'), ('create_training_set'), ('materialize'),
        ('materialize_incremental'), ('materialization_pipeline'), ('set_drift_reference_from_feature_set'),
        ('set_input_constraints')),
    deployer (name) AS (VALUES
        ('transition_stage'), ('set_alias'), ('drop_alias'),
        ('deploy'), ('promote_deployment'), ('set_canary_percent'), ('rollback'),
        ('approve_deployment'), ('refuse_deployment'), ('validate_model'), ('check_deployments'),
        ('deployment_pipeline'), ('create_ab_test'), ('set_ab_weights'), ('stop_ab_test')),
    operator (name) AS (VALUES
        ('create_monitor'), ('drop_monitor'), ('set_monitor_drift'), ('check_degradation'),
        ('monitoring_pipeline'), ('_monitor_pipeline_settings'), ('check_monitor_drift'), ('add_alert_rule'), ('drop_alert_rule'),
        ('set_alert_action'), ('check_deployments'),
        ('set_alert_rule_enabled'), ('check_alerts'), ('acknowledge_alert'), ('resolve_alert'),
        ('schedule'), ('unschedule'), ('alter_job'), ('run_job'), ('schedule_pipeline'),
        ('record_prediction'), ('record_actual'), ('prometheus_metrics'), ('model_cache'),
        ('materialize'), ('materialize_incremental'), ('materialization_pipeline'),
        ('create_api_key'), ('revoke_api_key')),
    auditor (name) AS (VALUES
        ('current_actor'), ('audit_events'), ('verify_audit_log')),
    admin_only (name) AS (VALUES
        ('grant_capability'), ('revoke_capability'), ('model_cache_reset'),
        ('prediction_stats_reset')),
    bundles (capability, object_type, object_name) AS (
        SELECT 'reader', 'function', name FROM reader
        UNION SELECT 'reader', 'relation', name FROM reader_rel
        UNION SELECT c.c, 'function', r.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), reader r
        UNION SELECT c.c, 'relation', r.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), reader_rel r
        UNION SELECT c.c, 'function', o.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), owner_fns o
        UNION SELECT 'scientist', 'function', name FROM scientist
        UNION SELECT 'scientist', 'relation', name FROM scientist_rel
        UNION SELECT 'operator', 'relation', name FROM operator_rel
        UNION SELECT 'deployer', 'function', name FROM deployer
        UNION SELECT 'operator', 'function', name FROM operator
        UNION SELECT 'auditor', 'function', name FROM auditor
        UNION SELECT 'auditor', 'relation', 'audit_log'
        UNION SELECT 'admin', 'function', name FROM admin_only)
    SELECT b.capability, b.object_type, b.object_name FROM bundles b
    UNION
    -- admin holds every other bundle
    SELECT 'admin', b.object_type, b.object_name FROM bundles b
$$;
REVOKE ALL ON FUNCTION mlops._capability_objects() FROM PUBLIC;

-- _apply_capability grants (or revokes) one bundle's privileges.
CREATE FUNCTION mlops._apply_capability(role regrole, capability text, do_grant boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    o record;
    verb text := CASE WHEN do_grant THEN 'GRANT' ELSE 'REVOKE' END;
    dir text := CASE WHEN do_grant THEN 'TO' ELSE 'FROM' END;
BEGIN
    IF do_grant THEN
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA mlops TO %s', role);
    END IF;
    FOR o IN
        SELECT p.oid::regprocedure AS fn, NULL::regclass AS rel
          FROM mlops._capability_objects() c
          JOIN pg_catalog.pg_proc p ON p.proname OPERATOR(pg_catalog.=) c.object_name
         WHERE c.capability OPERATOR(pg_catalog.=) $2 AND c.object_type OPERATOR(pg_catalog.=) 'function'
           AND p.pronamespace OPERATOR(pg_catalog.=) 'mlops'::regnamespace
        UNION ALL
        SELECT NULL, cl.oid::regclass
          FROM mlops._capability_objects() c
          JOIN pg_catalog.pg_class cl ON cl.relname OPERATOR(pg_catalog.=) c.object_name
         WHERE c.capability OPERATOR(pg_catalog.=) $2 AND c.object_type OPERATOR(pg_catalog.=) 'relation'
           AND cl.relnamespace OPERATOR(pg_catalog.=) 'mlops'::regnamespace
    LOOP
        IF o.fn IS NOT NULL THEN
            EXECUTE pg_catalog.format('%s EXECUTE ON FUNCTION %s %s %s', verb, o.fn, dir, role);
        ELSE
            EXECUTE pg_catalog.format('%s SELECT ON %s %s %s', verb, o.rel, dir, role);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mlops._apply_capability(regrole, text, boolean) FROM PUBLIC;

-- _check_capability validates the arguments of grant/revoke_capability.
CREATE FUNCTION mlops._check_capability(role name, capability text) RETURNS regrole
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r oid;
BEGIN
    IF role IS NULL OR capability IS NULL THEN
        RAISE EXCEPTION 'role and capability must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mlops._capability_objects() c WHERE c.capability OPERATOR(pg_catalog.=) $2) THEN
        RAISE EXCEPTION 'unknown capability "%"', pg_catalog.left(capability, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Capabilities are reader, scientist, deployer, operator, auditor and admin.';
    END IF;
    SELECT a.oid INTO r FROM pg_catalog.pg_roles a WHERE a.rolname OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', pg_catalog.left(role, 100) USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r::regrole;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_capability(name, text) FROM PUBLIC;

-- grant_capability gives a role one bundle of privileges.
CREATE FUNCTION mlops._impl_grant_capability(role name, capability text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r regrole := mlops._check_capability(role, capability);
BEGIN
    PERFORM mlops._apply_capability(r, capability, true);
    INSERT INTO mlops.capability_grants (role, capability, granted_by)
    VALUES (r, capability, mlops.current_actor())
    ON CONFLICT ON CONSTRAINT capability_grants_pkey DO NOTHING;
    PERFORM mlops._audit_event('capability.grant', 'role', role::text,
                               pg_catalog.jsonb_build_object('capability', capability));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_grant_capability(name, text) FROM PUBLIC;
CREATE FUNCTION mlops.grant_capability(role name, capability text) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.grant_capability(name, text) FROM PUBLIC;

-- revoke_capability takes one bundle away; privileges that another bundle
-- the role still holds also gives are kept.
CREATE FUNCTION mlops._impl_revoke_capability(role name, capability text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r regrole := mlops._check_capability(role, capability);
    other text;
BEGIN
    DELETE FROM mlops.capability_grants g
     WHERE g.role OPERATOR(pg_catalog.=) r AND g.capability OPERATOR(pg_catalog.=) $2;
    PERFORM mlops._apply_capability(r, capability, false);
    FOR other IN SELECT g.capability FROM mlops.capability_grants g WHERE g.role OPERATOR(pg_catalog.=) r LOOP
        PERFORM mlops._apply_capability(r, other, true);
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM mlops.capability_grants g WHERE g.role OPERATOR(pg_catalog.=) r) THEN
        EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA mlops FROM %s', r);
    END IF;
    PERFORM mlops._audit_event('capability.revoke', 'role', role::text,
                               pg_catalog.jsonb_build_object('capability', capability));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_revoke_capability(name, text) FROM PUBLIC;
CREATE FUNCTION mlops.revoke_capability(role name, capability text) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.revoke_capability(name, text) FROM PUBLIC;
