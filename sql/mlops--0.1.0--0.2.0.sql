-- mlops 0.1.0 -> 0.2.0 (ALTER EXTENSION mlops UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0, in the order the install pieces (sql/install/) make them; a fresh
-- 0.2.0 install and an updated 0.1.0 database must end up with the same schema (test/t/005_upgrade.pl
-- compares their pg_dump --schema-only).  What changed for users is in CHANGELOG.md.
\echo Use "ALTER EXTENSION mlops UPDATE TO '0.2.0'" to load this file. \quit

-- ==== common: sources, settings, security ====


-- ==== registry and model import ====


-- ==== training ====


-- ==== serving ====


-- ==== drift ====
-- The streaming ADWIN functions take verbs first: adwin_create, adwin_update
-- and adwin_drop are now create_adwin, update_adwin and drop_adwin.
DROP FUNCTION mlops.adwin_create(text, float8);
DROP FUNCTION mlops.adwin_update(text, float8);
DROP FUNCTION mlops.adwin_drop(text);
CREATE FUNCTION mlops.create_adwin(name text, delta float8 DEFAULT 0.002)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_create_adwin';
REVOKE ALL ON FUNCTION mlops.create_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.update_adwin(name text, value float8)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_update_adwin';
REVOKE ALL ON FUNCTION mlops.update_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.drop_adwin(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_drop_adwin';
REVOKE ALL ON FUNCTION mlops.drop_adwin(text) FROM PUBLIC;

-- _check_source runs the checks of the source resolver (src/common/source.c)
-- that need only the text, for a source stored now and read later by its
-- reader (such as the current-data source of mlops.set_monitor_drift): an
-- empty, file-like, multi-statement, malformed or writing source raises the
-- resolver's error.
CREATE FUNCTION mlops._check_source(source text)
    RETURNS void
    LANGUAGE C STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_source';
REVOKE ALL ON FUNCTION mlops._check_source(text) FROM PUBLIC;

-- _source_query returns the query the source resolver makes of a source
-- (SELECT * FROM schema.relation, or the source's single read-only query),
-- resolved as the caller with the resolver's checks and errors, for SQL code
-- that reads a source itself.
CREATE FUNCTION mlops._source_query(source text)
    RETURNS text
    LANGUAGE C STRICT STABLE
    AS 'MODULE_PATHNAME', 'mlops_source_query';
REVOKE ALL ON FUNCTION mlops._source_query(text) FROM PUBLIC;


-- ==== monitoring and alerts ====
-- 0.2.0: classification monitors learn their model's classes
ALTER TABLE mlops.monitors ADD COLUMN classes text[], ADD COLUMN classes_version integer,
    ADD COLUMN classes_version_created_at timestamptz;

CREATE FUNCTION mlops._model_classes(input_schema jsonb)
    RETURNS text[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_model_classes';
REVOKE ALL ON FUNCTION mlops._model_classes(jsonb) FROM PUBLIC;

CREATE FUNCTION mlops._check_labels(model text, version integer, classes text[],
                                    prediction float8, actual float8)
    RETURNS void
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_labels';
REVOKE ALL ON FUNCTION mlops._check_labels(text, integer, text[], float8, float8) FROM PUBLIC;

CREATE FUNCTION mlops._monitor_classes(m mlops.monitors)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cur_version integer;
    cur_created timestamptz;
BEGIN
    IF m.problem_type OPERATOR(pg_catalog.<>) 'classification' THEN
        RETURN m;
    END IF;
    SELECT v.version, v.created_at INTO cur_version, cur_created
      FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
     WHERE mo.name OPERATOR(pg_catalog.=) m.model
     ORDER BY v.stage OPERATOR(pg_catalog.=) 'Production' DESC, v.version DESC
     LIMIT 1;
    IF cur_version IS NOT DISTINCT FROM m.classes_version
       AND cur_created IS NOT DISTINCT FROM m.classes_version_created_at THEN
        RETURN m;
    END IF;
    m.classes := (SELECT mlops._model_classes(v.input_schema)
                    FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
                   WHERE mo.name OPERATOR(pg_catalog.=) m.model AND v.version OPERATOR(pg_catalog.=) cur_version);
    m.classes_version := cur_version;
    m.classes_version_created_at := cur_created;
    IF NOT pg_catalog.current_setting('transaction_read_only')::boolean THEN
        UPDATE mlops.monitors mm
           SET classes = m.classes, classes_version = m.classes_version,
               classes_version_created_at = m.classes_version_created_at
         WHERE mm.monitor_id OPERATOR(pg_catalog.=) (SELECT l.monitor_id FROM mlops.monitors l
                                                      WHERE l.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
                                                        FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_classes(mlops.monitors) FROM PUBLIC;

CREATE OR REPLACE FUNCTION mlops._impl_create_monitor(model text, problem_type text, baseline_metrics jsonb,
                                           window_size integer, tolerance float8)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    bad text;
    m mlops.monitors;
BEGIN
    IF model IS NULL OR model OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid model name %', COALESCE(pg_catalog.quote_literal(model), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Model names are 1 to 128 letters, digits, "_", "." and "-", as in the registry.';
    END IF;
    IF problem_type IS NULL OR problem_type OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression']) THEN
        RAISE EXCEPTION 'invalid problem type %', COALESCE(pg_catalog.quote_literal(problem_type), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''classification'' or ''regression''.';
    END IF;
    PERFORM mlops._require_object(baseline_metrics, 'baseline_metrics');
    IF baseline_metrics OPERATOR(pg_catalog.=) '{}'::jsonb THEN
        RAISE EXCEPTION 'baseline_metrics must name at least one metric'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE problem_type WHEN 'classification'
                         THEN 'For example ''{"accuracy": 0.92, "f1_score": 0.89}''.'
                         ELSE 'For example ''{"rmse": 3.5, "r2": 0.8}''.' END;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(b.key), ', ' ORDER BY b.key) INTO bad
      FROM pg_catalog.jsonb_each(baseline_metrics) b
     WHERE mlops._monitor_metric_direction(problem_type, b.key) IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown % metric %', problem_type, bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE problem_type WHEN 'classification'
                         THEN 'Classification metrics are accuracy, precision, recall, f1_score and roc_auc.'
                         ELSE 'Regression metrics are mae, mse, rmse, r2 and mape.' END;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s: %s', b.key, b.value), ', ' ORDER BY b.key) INTO bad
      FROM pg_catalog.jsonb_each(baseline_metrics) b
     WHERE pg_catalog.jsonb_typeof(b.value) OPERATOR(pg_catalog.<>) 'number';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'baseline metric values must be numbers'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', bad);
    END IF;
    IF window_size IS NULL OR window_size OPERATOR(pg_catalog.<) 1 OR window_size OPERATOR(pg_catalog.>) 10000000 THEN
        RAISE EXCEPTION 'window_size must be between 1 and 10000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(window_size::text, 'NULL'));
    END IF;
    IF tolerance IS NULL OR NOT (tolerance OPERATOR(pg_catalog.>=) 0 AND tolerance OPERATOR(pg_catalog.<) 'Infinity') THEN
        RAISE EXCEPTION 'tolerance must be a finite number of at least 0'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(tolerance::text, 'NULL')),
                  HINT = 'The tolerance is relative: 0.05 allows a metric to be 5% worse than its baseline.';
    END IF;
    IF EXISTS (SELECT 1 FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) model) THEN
        RAISE EXCEPTION 'model % already has a monitor', pg_catalog.quote_literal(model)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Drop it first with mlops.drop_monitor(model), which also drops its recorded predictions.';
    END IF;
    INSERT INTO mlops.monitors (model, problem_type, baseline_metrics, window_size, tolerance, created_by)
    VALUES (model, problem_type, baseline_metrics, window_size, tolerance, mlops.current_actor())
    RETURNING * INTO m;
    m := mlops._monitor_classes(m);
    PERFORM mlops._audit_event('monitor.create', 'monitor', model,
        pg_catalog.jsonb_build_object('monitor_id', m.monitor_id, 'problem_type', problem_type,
                                      'baseline_metrics', baseline_metrics,
                                      'window_size', window_size, 'tolerance', tolerance,
                                      'classes', m.classes, 'classes_version', m.classes_version));
    RETURN m.monitor_id;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_record_prediction(model text, prediction float8, actual float8,
                                              prediction_id text, recorded_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_for(model));
BEGIN
    PERFORM mlops._check_observation(m.problem_type, prediction, actual);
    PERFORM mlops._check_labels(model, m.classes_version, m.classes, prediction, actual);
    IF recorded_at IS NULL OR NOT pg_catalog.isfinite(recorded_at) THEN
        RAISE EXCEPTION 'recorded_at must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(recorded_at::text, 'NULL'));
    END IF;
    INSERT INTO mlops.monitor_predictions (monitor_id, prediction_id, prediction, actual, recorded_at, labelled_at)
    VALUES (m.monitor_id, prediction_id, prediction, actual, recorded_at,
            CASE WHEN actual IS NOT NULL THEN pg_catalog.now() END)
    ON CONFLICT ON CONSTRAINT monitor_predictions_prediction_id_key DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'prediction % of model % is already recorded',
                        pg_catalog.quote_literal(prediction_id), pg_catalog.quote_literal(model)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Prediction ids are unique per model; send its label with mlops.record_actual().';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_record_actual(model text, prediction_id text, actual float8)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_for(model));
    p float8;
BEGIN
    IF prediction_id IS NULL OR actual IS NULL THEN
        RAISE EXCEPTION 'prediction_id and actual must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT mp.prediction INTO p FROM mlops.monitor_predictions mp
     WHERE mp.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
       AND mp.prediction_id OPERATOR(pg_catalog.=) prediction_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no prediction %', pg_catalog.quote_literal(model),
                        pg_catalog.quote_literal(prediction_id)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Record it first with mlops.record_prediction(model, prediction, prediction_id => ...).';
    END IF;
    PERFORM mlops._check_observation(m.problem_type, p, actual);
    PERFORM mlops._check_labels(model, m.classes_version, m.classes, NULL, actual);
    UPDATE mlops.monitor_predictions mp SET actual = actual, labelled_at = pg_catalog.now()
     WHERE mp.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
       AND mp.prediction_id OPERATOR(pg_catalog.=) prediction_id;
END
$$;


-- ==== scheduler and pipelines ====


-- ==== audit and trust model ====


-- ==== end ====
