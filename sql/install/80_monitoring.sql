-- Monitoring: performance monitors over recorded predictions and their
-- labels, alert rules in a safe expression language (src/monitor/expr.c), alerts
-- announced on the NOTIFY channel mlops_alerts, the dashboard view and the
-- Prometheus export.  docs/monitoring.md describes every object here.
--
-- Ownership (docs/security.md#ownership): monitors and alert rules belong to
-- the role that created them (column owner); every change -- settings,
-- recorded predictions and labels, degradation checks, drop -- requires
-- membership in the owner role (mlops._monitor_to_change,
-- mlops._alert_rule_for_update), and check_alerts fires only the rules the
-- caller may change.  An alert belongs to its rule's owner at firing time;
-- acknowledging or resolving it requires membership in that role.  The
-- drift source of a monitor is SQL stored now and run later: it runs as the
-- role that stored it (drift_source_role), with the search_path that role
-- had then (drift_source_search_path), never as whoever runs the pipeline
-- (mlops.check_monitor_drift, src/drift/detect.c).
--
-- Other capabilities feed in where they are installed, read through guarded
-- look-ups (to_regclass): mlops.prediction_stats (serving),
-- mlops.drift_results (drift), mlops.job_runs / mlops.jobs (scheduler).  monitoring_pipeline is one of
-- the scheduler's pipelines: its public function is the pipeline trampoline
-- (src/sched/pipelines.c), which records each run in mlops.pipeline_runs
-- (sql/install/70_scheduler.sql).

------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------

CREATE TABLE mlops.monitors (
    monitor_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model            text NOT NULL UNIQUE
                     CHECK (model OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    problem_type     text NOT NULL
                     CHECK (problem_type OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression'])),
    baseline_metrics jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(baseline_metrics) OPERATOR(pg_catalog.=) 'object'),
    window_size      integer NOT NULL CHECK (window_size OPERATOR(pg_catalog.>) 0),
    tolerance        float8 NOT NULL CHECK (tolerance OPERATOR(pg_catalog.>=) 0),
    drift_reference  text,
    drift_source     text,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by       name NOT NULL,
    -- classification: the class labels of the model version labels are judged by (code c is
    -- classes[c + 1]), and that version: its number and when it was registered (_monitor_classes)
    classes                    text[],
    classes_version            integer,
    classes_version_created_at timestamptz,
    owner                      regrole NOT NULL,
    -- who stored drift_source, and the search_path it is read with
    drift_source_role          regrole,
    drift_source_search_path   text
);
REVOKE ALL ON mlops.monitors FROM PUBLIC;

-- One row per recorded prediction; actual arrives with it or later.
CREATE TABLE mlops.monitor_predictions (
    row_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id    bigint NOT NULL REFERENCES mlops.monitors (monitor_id) ON DELETE CASCADE,
    prediction_id text,
    prediction    float8 NOT NULL,
    actual        float8,
    recorded_at   timestamptz NOT NULL,
    labelled_at   timestamptz,
    -- NULL ids never conflict: only predictions that will get a late label need one
    CONSTRAINT monitor_predictions_prediction_id_key UNIQUE (monitor_id, prediction_id)
);
CREATE INDEX monitor_predictions_labelled_idx ON mlops.monitor_predictions (monitor_id, recorded_at, row_id)
    WHERE actual IS NOT NULL;
CREATE INDEX monitor_predictions_recent_idx ON mlops.monitor_predictions (monitor_id, recorded_at);
REVOKE ALL ON mlops.monitor_predictions FROM PUBLIC;

-- Every degradation check, newest last.
CREATE TABLE mlops.monitor_checks (
    check_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id           bigint NOT NULL REFERENCES mlops.monitors (monitor_id) ON DELETE CASCADE,
    checked_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    status               text NOT NULL
                         CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['ok', 'degraded', 'insufficient_data'])),
    degradation_detected boolean NOT NULL,
    degraded_metrics     text[] NOT NULL,
    labelled_rows        bigint NOT NULL,
    result               jsonb NOT NULL
);
CREATE INDEX monitor_checks_monitor_idx ON mlops.monitor_checks (monitor_id, check_id);
REVOKE ALL ON mlops.monitor_checks FROM PUBLIC;

CREATE TABLE mlops.alert_rules (
    rule_id    text PRIMARY KEY CHECK (rule_id OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    name       text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
    condition  text NOT NULL,
    metrics    text[] NOT NULL,		-- the metric names the condition reads
    severity   text NOT NULL CHECK (severity OPERATOR(pg_catalog.=) ANY (ARRAY['info', 'warning', 'critical'])),
    cooldown   interval NOT NULL CHECK (cooldown OPERATOR(pg_catalog.>=) '0'::interval),
    labels     jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(labels) OPERATOR(pg_catalog.=) 'object'),
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by name NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner      regrole NOT NULL
);
REVOKE ALL ON mlops.alert_rules FROM PUBLIC;

-- When each rule last fired for each source ('' for none): the cooldown.
CREATE TABLE mlops.alert_cooldowns (
    rule_id       text NOT NULL REFERENCES mlops.alert_rules (rule_id) ON DELETE CASCADE,
    source        text NOT NULL,
    last_fired_at timestamptz NOT NULL,
    PRIMARY KEY (rule_id, source)
);
REVOKE ALL ON mlops.alert_cooldowns FROM PUBLIC;

-- Fired alerts.  History outlives the rule, so rule_id is not a foreign key;
-- owner is the rule's owner when the alert fired.
CREATE TABLE mlops.alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         text NOT NULL,
    rule_name       text NOT NULL,
    severity        text NOT NULL,
    condition       text NOT NULL,
    source          text,
    metrics         jsonb NOT NULL,
    labels          jsonb NOT NULL,
    fired_at        timestamptz NOT NULL,
    acknowledged    boolean NOT NULL DEFAULT false,
    acknowledged_at timestamptz,
    acknowledged_by name,
    resolved_at     timestamptz,
    resolved_by     name,
    owner           regrole NOT NULL
);
CREATE INDEX alerts_fired_idx ON mlops.alerts (fired_at);
CREATE INDEX alerts_open_idx ON mlops.alerts (source, severity) WHERE resolved_at IS NULL;
REVOKE ALL ON mlops.alerts FROM PUBLIC;

------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------

-- _check_observation raises a clear error unless prediction (and actual,
-- when given) suit the problem type; shared with the metrics code in C.
CREATE FUNCTION mlops._check_observation(problem_type text, prediction float8, actual float8)
    RETURNS void
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_observation';
REVOKE ALL ON FUNCTION mlops._check_observation(text, float8, float8) FROM PUBLIC;

-- _model_classes returns the class labels of a model version's input_schema in code order,
-- NULL when it lists none (src/monitor/classes.c).
CREATE FUNCTION mlops._model_classes(input_schema jsonb)
    RETURNS text[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_model_classes';
REVOKE ALL ON FUNCTION mlops._model_classes(jsonb) FROM PUBLIC;

-- _check_labels raises a clear error unless prediction and actual (each skipped when NULL) are
-- class codes of a model's classes (a probability only for a binary model); NULL classes check
-- nothing.
CREATE FUNCTION mlops._check_labels(model text, version integer, classes text[],
                                    prediction float8, actual float8)
    RETURNS void
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_labels';
REVOKE ALL ON FUNCTION mlops._check_labels(text, integer, text[], float8, float8) FROM PUBLIC;

-- _alert_condition_metrics parses a condition and returns the metric names
-- it reads, or raises the syntax or type error with its position.
CREATE FUNCTION mlops._alert_condition_metrics(condition text)
    RETURNS text[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_alert_condition_metrics';
REVOKE ALL ON FUNCTION mlops._alert_condition_metrics(text) FROM PUBLIC;

-- _bounded_list joins items as error messages list them: the first 20, each
-- clipped to 200 bytes, then "… and N more" (MlopsList, src/common/messages.c).
CREATE FUNCTION mlops._bounded_list(items text[])
    RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_bounded_list';
REVOKE ALL ON FUNCTION mlops._bounded_list(text[]) FROM PUBLIC;

-- _check_prediction_id raises a clear error for a prediction id longer than
-- 256 characters (ids are unique per monitor, and their index has a size
-- limit); NULL passes.
CREATE FUNCTION mlops._check_prediction_id(prediction_id text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.length(prediction_id) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'prediction_id is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters; the limit is 256.', pg_catalog.length(prediction_id)),
                  HINT = 'Use a key such as an order number or a UUID.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_prediction_id(text) FROM PUBLIC;

-- _monitor_metric_direction: 1 when a larger value is better, -1 when a
-- smaller one is, NULL when the metric is not one of the problem type's.
CREATE FUNCTION mlops._monitor_metric_direction(problem_type text, metric text)
    RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN problem_type OPERATOR(pg_catalog.=) 'classification'
             AND metric OPERATOR(pg_catalog.=) ANY (ARRAY['accuracy', 'precision', 'recall', 'f1_score', 'roc_auc']) THEN 1
        WHEN problem_type OPERATOR(pg_catalog.=) 'regression'
             AND metric OPERATOR(pg_catalog.=) 'r2' THEN 1
        WHEN problem_type OPERATOR(pg_catalog.=) 'regression'
             AND metric OPERATOR(pg_catalog.=) ANY (ARRAY['mae', 'mse', 'rmse', 'mape']) THEN -1
    END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_metric_direction(text, text) FROM PUBLIC;

-- _monitor_for locks and returns the monitor of a model, or raises.
CREATE FUNCTION mlops._monitor_for(p_model text, for_update boolean DEFAULT false)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m mlops.monitors;
BEGIN
    IF for_update THEN
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR UPDATE;
    ELSE
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no monitor', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_monitor(model, problem_type, baseline_metrics).';
    END IF;
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_for(text, boolean) FROM PUBLIC;

-- _monitor_to_change locks the monitor of a model (FOR SHARE when only its
-- data changes: recordings and checks of one monitor do not wait for each
-- other) and returns it, or raises unless it exists and the actor may
-- change it.
CREATE FUNCTION mlops._monitor_to_change(p_model text, for_share boolean DEFAULT false)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m mlops.monitors;
BEGIN
    IF for_share THEN
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR SHARE;
    ELSE
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no monitor', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_monitor(model, problem_type, baseline_metrics).';
    END IF;
    PERFORM mlops._require_owner('monitor', p_model, m.owner);
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_to_change(text, boolean) FROM PUBLIC;

-- _monitor_classes returns a classification monitor with the classes of its model's current
-- version (the Production version, else the newest), learning them again when that version is
-- not the one they were learned from (another number, or another registration time: a model
-- dropped and registered anew), and storing them unless the transaction is read-only or another
-- session is storing them.
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

------------------------------------------------------------------------
-- Performance monitors
------------------------------------------------------------------------

CREATE FUNCTION mlops._impl_create_monitor(model text, problem_type text, baseline_metrics jsonb,
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
        RAISE EXCEPTION 'invalid model name %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(model, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Model names are 1 to 128 letters, digits, "_", "." and "-", as in the registry.';
    END IF;
    IF problem_type IS NULL OR problem_type OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression']) THEN
        RAISE EXCEPTION 'invalid problem type %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(problem_type, 200)), 'NULL')
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
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(b.key) ORDER BY b.key)) INTO bad
      FROM pg_catalog.jsonb_each(baseline_metrics) b
     WHERE mlops._monitor_metric_direction(problem_type, b.key) IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown % metric %', problem_type, bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE problem_type WHEN 'classification'
                         THEN 'Classification metrics are accuracy, precision, recall, f1_score and roc_auc.'
                         ELSE 'Regression metrics are mae, mse, rmse, r2 and mape.' END;
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.format('%s: %s', b.key, b.value) ORDER BY b.key)) INTO bad
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
    INSERT INTO mlops.monitors (model, problem_type, baseline_metrics, window_size, tolerance, created_by, owner)
    VALUES (model, problem_type, baseline_metrics, window_size, tolerance, mlops.current_actor(),
            mlops.current_actor()::regrole)
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
REVOKE ALL ON FUNCTION mlops._impl_create_monitor(text, text, jsonb, integer, float8) FROM PUBLIC;
CREATE FUNCTION mlops.create_monitor(model text, problem_type text, baseline_metrics jsonb,
                                     window_size integer DEFAULT 1000, tolerance float8 DEFAULT 0.05)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.create_monitor(text, text, jsonb, integer, float8) FROM PUBLIC;

CREATE FUNCTION mlops._impl_drop_monitor(model text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model);
BEGIN
    DELETE FROM mlops.monitors WHERE monitors.monitor_id OPERATOR(pg_catalog.=) m.monitor_id;
    PERFORM mlops._audit_event('monitor.drop', 'monitor', model,
                               pg_catalog.jsonb_build_object('monitor_id', m.monitor_id));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_monitor(text) FROM PUBLIC;
CREATE FUNCTION mlops.drop_monitor(model text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_monitor(text) FROM PUBLIC;

-- set_monitor_drift names the drift reference and the current-data source
-- that monitoring_pipeline checks; NULL reference clears both.  The source
-- is checked by the source resolver's text checks now and stored with the
-- role that stored it and that role's search_path (with pg_temp last), which
-- it is read with later (mlops.check_monitor_drift).  The public function is
-- C (src/monitor/monitoring.c): it records the caller as the actor, like the
-- trampoline, and passes the caller's search_path.
CREATE FUNCTION mlops._impl_set_monitor_drift(model text, reference text, source text, search_path text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model);
BEGIN
    IF reference IS NOT NULL AND (source IS NULL OR pg_catalog.btrim(source) OPERATOR(pg_catalog.=) '') THEN
        RAISE EXCEPTION 'a drift reference needs a source of current data'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the table, view or query whose rows mlops.detect_drift() compares with the reference.';
    END IF;
    IF reference IS NOT NULL AND pg_catalog.length(reference) OPERATOR(pg_catalog.>) 128 THEN
        RAISE EXCEPTION 'drift reference name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters; the limit is 128.', pg_catalog.length(reference));
    END IF;
    IF reference IS NOT NULL THEN
        PERFORM mlops._check_source(source);
    END IF;
    UPDATE mlops.monitors
       SET drift_reference = reference,
           drift_source = CASE WHEN reference IS NULL THEN NULL ELSE source END,
           drift_source_role = CASE WHEN reference IS NULL THEN NULL ELSE mlops.current_actor()::regrole END,
           drift_source_search_path = CASE
               WHEN reference IS NULL THEN NULL
               WHEN search_path OPERATOR(pg_catalog.~) '(^|[ ,"])pg_temp([ ,"]|$)' THEN search_path
               ELSE pg_catalog.concat_ws(', ', NULLIF(search_path, ''), 'pg_temp') END
     WHERE monitors.monitor_id OPERATOR(pg_catalog.=) m.monitor_id;
    PERFORM mlops._audit_event('monitor.set_drift', 'monitor', model,
                               pg_catalog.jsonb_build_object('reference', reference, 'source', source));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_monitor_drift(text, text, text, text) FROM PUBLIC;
CREATE FUNCTION mlops.set_monitor_drift(model text, reference text, source text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_set_monitor_drift';
REVOKE ALL ON FUNCTION mlops.set_monitor_drift(text, text, text) FROM PUBLIC;

-- check_monitor_drift runs mlops.detect_drift over the monitor's drift
-- reference and stored source: the source is read as the role that stored
-- it, with its search_path, in a security-restricted operation; the caller
-- must be allowed to change the monitor and the reference.  NULL when the
-- monitor names no drift reference.
CREATE FUNCTION mlops.check_monitor_drift(model text)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_check_monitor_drift';
REVOKE ALL ON FUNCTION mlops.check_monitor_drift(text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_record_prediction(model text, prediction float8, actual float8,
                                              prediction_id text, recorded_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_to_change(model, true));
BEGIN
    PERFORM mlops._check_observation(m.problem_type, prediction, actual);
    PERFORM mlops._check_labels(model, m.classes_version, m.classes, prediction, actual);
    PERFORM mlops._check_prediction_id(prediction_id);
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
REVOKE ALL ON FUNCTION mlops._impl_record_prediction(text, float8, float8, text, timestamptz) FROM PUBLIC;
CREATE FUNCTION mlops.record_prediction(model text, prediction float8, actual float8 DEFAULT NULL,
                                        prediction_id text DEFAULT NULL,
                                        recorded_at timestamptz DEFAULT pg_catalog.now())
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.record_prediction(text, float8, float8, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION mlops._impl_record_actual(model text, prediction_id text, actual float8)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_to_change(model, true));
    p float8;
BEGIN
    IF prediction_id IS NULL OR actual IS NULL THEN
        RAISE EXCEPTION 'prediction_id and actual must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mlops._check_prediction_id(prediction_id);
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
REVOKE ALL ON FUNCTION mlops._impl_record_actual(text, text, float8) FROM PUBLIC;
CREATE FUNCTION mlops.record_actual(model text, prediction_id text, actual float8)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.record_actual(text, text, float8) FROM PUBLIC;

-- model_metrics reads the labelled window in one pass, in C (src/monitor/monitoring.c).
CREATE FUNCTION mlops.model_metrics(model text, since timestamptz DEFAULT NULL, window_size integer DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_model_metrics';
REVOKE ALL ON FUNCTION mlops.model_metrics(text, timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION mlops._impl_check_degradation(model text)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model, true);
    metrics jsonb := mlops.model_metrics(model);
    labelled bigint := (metrics OPERATOR(pg_catalog.->>) 'rows')::bigint;
    min_rows integer := LEAST(pg_catalog.current_setting('mlops.monitor_min_rows')::integer, m.window_size);
    cur jsonb := '{}';
    changes jsonb := '{}';
    not_compared text[] := '{}';
    degraded text[] := '{}';
    b record;
    c float8;
    change float8;
    dir integer;
    status text;
    result jsonb;
BEGIN
    FOR b IN SELECT e.key, (e.value #>> '{}')::float8 AS value
               FROM pg_catalog.jsonb_each(m.baseline_metrics) e ORDER BY e.key LOOP
        IF pg_catalog.jsonb_typeof(metrics OPERATOR(pg_catalog.->) b.key) OPERATOR(pg_catalog.<>) 'number' THEN
            not_compared := not_compared OPERATOR(pg_catalog.||) b.key;
            CONTINUE;
        END IF;
        c := (metrics OPERATOR(pg_catalog.->>) b.key)::float8;
        dir := mlops._monitor_metric_direction(m.problem_type, b.key);
        cur := cur OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(b.key, c);
        -- relative change in the "better" direction; absolute when the baseline is 0
        change := CASE WHEN b.value OPERATOR(pg_catalog.=) 0 THEN (c OPERATOR(pg_catalog.-) b.value)
                       ELSE (c OPERATOR(pg_catalog.-) b.value) OPERATOR(pg_catalog./) pg_catalog.abs(b.value) END;
        changes := changes OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(b.key, change);
        IF (dir OPERATOR(pg_catalog.*) change) OPERATOR(pg_catalog.<) (OPERATOR(pg_catalog.-) m.tolerance) THEN
            degraded := degraded OPERATOR(pg_catalog.||) b.key;
        END IF;
    END LOOP;

    IF labelled OPERATOR(pg_catalog.<) min_rows OR cur OPERATOR(pg_catalog.=) '{}'::jsonb THEN
        status := 'insufficient_data';
        degraded := '{}';
        cur := '{}';
        changes := '{}';
    ELSIF pg_catalog.cardinality(degraded) OPERATOR(pg_catalog.>) 0 THEN
        status := 'degraded';
    ELSE
        status := 'ok';
    END IF;

    result := pg_catalog.jsonb_build_object(
        'model', model,
        'degradation_detected', status OPERATOR(pg_catalog.=) 'degraded',
        'status', status,
        'degraded_metrics', pg_catalog.to_jsonb(degraded),
        'current', cur,
        'baseline', m.baseline_metrics,
        'relative_change', changes,
        'tolerance', m.tolerance,
        'labelled_rows', labelled,
        'min_rows', min_rows);
    IF labelled OPERATOR(pg_catalog.<) min_rows THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('message',
            pg_catalog.format('%s labelled predictions in the window, at least %s are needed to judge',
                              labelled, min_rows));
    ELSIF pg_catalog.cardinality(not_compared) OPERATOR(pg_catalog.>) 0 THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('not_compared', pg_catalog.to_jsonb(not_compared),
            'message', COALESCE(metrics OPERATOR(pg_catalog.->>) 'roc_auc_note', 'metric not available'));
    END IF;
    INSERT INTO mlops.monitor_checks (monitor_id, status, degradation_detected, degraded_metrics, labelled_rows, result)
    VALUES (m.monitor_id, status, status OPERATOR(pg_catalog.=) 'degraded', degraded, labelled, result);
    RETURN result;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_check_degradation(text) FROM PUBLIC;
CREATE FUNCTION mlops.check_degradation(model text)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.check_degradation(text) FROM PUBLIC;

------------------------------------------------------------------------
-- Alert rules and alerts
------------------------------------------------------------------------

CREATE FUNCTION mlops._impl_add_alert_rule(rule_id text, name text, condition text, severity text,
                                           cooldown interval, labels jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    names text[];
BEGIN
    IF rule_id IS NULL OR rule_id OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid rule id %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(rule_id, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Rule ids are 1 to 128 letters, digits, "_", "." and "-", such as ''high_latency''.';
    END IF;
    IF name IS NULL OR pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'alert rule name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF condition IS NULL THEN
        RAISE EXCEPTION 'alert condition must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    names := mlops._alert_condition_metrics(condition);
    IF severity IS NULL OR severity OPERATOR(pg_catalog.<>) ALL (ARRAY['info', 'warning', 'critical']) THEN
        RAISE EXCEPTION 'invalid severity %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(severity, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Severities are info, warning and critical.';
    END IF;
    IF cooldown IS NULL OR cooldown OPERATOR(pg_catalog.<) '0'::interval THEN
        RAISE EXCEPTION 'cooldown must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(cooldown::text, 'NULL')),
                  HINT = 'Use ''0'' to fire on every check, or an interval such as ''15 minutes''.';
    END IF;
    PERFORM mlops._require_object(labels, 'labels');
    IF EXISTS (SELECT 1 FROM mlops.alert_rules r WHERE r.rule_id OPERATOR(pg_catalog.=) rule_id) THEN
        RAISE EXCEPTION 'alert rule % already exists', pg_catalog.quote_literal(rule_id)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Drop it first with mlops.drop_alert_rule(rule_id).';
    END IF;
    INSERT INTO mlops.alert_rules (rule_id, name, condition, metrics, severity, cooldown, labels, created_by, owner)
    VALUES (rule_id, name, condition, names, severity, cooldown, labels, mlops.current_actor(),
            mlops.current_actor()::regrole);
    PERFORM mlops._audit_event('alert_rule.add', 'alert_rule', rule_id,
        pg_catalog.jsonb_build_object('name', name, 'condition', condition, 'severity', severity,
                                      'cooldown', cooldown::text, 'labels', labels));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_add_alert_rule(text, text, text, text, interval, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.add_alert_rule(rule_id text, name text, condition text, severity text DEFAULT 'warning',
                                     cooldown interval DEFAULT '15 minutes', labels jsonb DEFAULT '{}')
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.add_alert_rule(text, text, text, text, interval, jsonb) FROM PUBLIC;

-- _alert_rule_for_update locks a rule and returns it, or raises unless it
-- exists and the actor may change it.
CREATE FUNCTION mlops._alert_rule_for_update(p_rule_id text)
    RETURNS mlops.alert_rules
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.alert_rules;
BEGIN
    SELECT * INTO r FROM mlops.alert_rules WHERE alert_rules.rule_id OPERATOR(pg_catalog.=) p_rule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert rule % does not exist', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_rule_id, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'List the rules with SELECT rule_id, name FROM mlops.alert_rules.';
    END IF;
    PERFORM mlops._require_owner('alert_rule', p_rule_id, r.owner);
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION mlops._alert_rule_for_update(text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_drop_alert_rule(rule_id text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.alert_rules := mlops._alert_rule_for_update(rule_id);
BEGIN
    DELETE FROM mlops.alert_rules WHERE alert_rules.rule_id OPERATOR(pg_catalog.=) r.rule_id;
    PERFORM mlops._audit_event('alert_rule.drop', 'alert_rule', rule_id,
                               pg_catalog.jsonb_build_object('condition', r.condition));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_alert_rule(text) FROM PUBLIC;
CREATE FUNCTION mlops.drop_alert_rule(rule_id text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_alert_rule(text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_set_alert_rule_enabled(rule_id text, enabled boolean)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.alert_rules := mlops._alert_rule_for_update(rule_id);
BEGIN
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE mlops.alert_rules SET enabled = enabled, updated_at = pg_catalog.now()
     WHERE alert_rules.rule_id OPERATOR(pg_catalog.=) r.rule_id;
    PERFORM mlops._audit_event(CASE WHEN enabled THEN 'alert_rule.enable' ELSE 'alert_rule.disable' END,
                               'alert_rule', rule_id, '{}');
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_alert_rule_enabled(text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.set_alert_rule_enabled(rule_id text, enabled boolean)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_alert_rule_enabled(text, boolean) FROM PUBLIC;

-- check_alerts evaluates, in C (src/monitor/alerts.c), every enabled rule
-- the caller may change (mlops._may_change of its owner).
CREATE FUNCTION mlops.check_alerts(metrics jsonb, source text DEFAULT NULL)
    RETURNS SETOF mlops.alerts
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_check_alerts';
REVOKE ALL ON FUNCTION mlops.check_alerts(jsonb, text) FROM PUBLIC;

-- _alert_for_update locks an alert and returns it, or raises unless it
-- exists and the actor may change it (a member of its rule's owner).
CREATE FUNCTION mlops._alert_for_update(p_alert_id bigint)
    RETURNS mlops.alerts
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a mlops.alerts;
BEGIN
    SELECT * INTO a FROM mlops.alerts WHERE alerts.alert_id OPERATOR(pg_catalog.=) p_alert_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % does not exist', COALESCE(p_alert_id::text, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Open alerts are SELECT * FROM mlops.alerts WHERE resolved_at IS NULL.';
    END IF;
    PERFORM mlops._require_owner('alert', p_alert_id::text, a.owner);
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION mlops._alert_for_update(bigint) FROM PUBLIC;

CREATE FUNCTION mlops._impl_acknowledge_alert(alert_id bigint)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    a mlops.alerts := mlops._alert_for_update(alert_id);
BEGIN
    IF a.acknowledged THEN
        RETURN;
    END IF;
    UPDATE mlops.alerts SET acknowledged = true, acknowledged_at = pg_catalog.now(),
                            acknowledged_by = mlops.current_actor()
     WHERE alerts.alert_id OPERATOR(pg_catalog.=) a.alert_id;
    PERFORM mlops._audit_event('alert.acknowledge', 'alert', alert_id::text,
                               pg_catalog.jsonb_build_object('rule_id', a.rule_id));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_acknowledge_alert(bigint) FROM PUBLIC;
CREATE FUNCTION mlops.acknowledge_alert(alert_id bigint)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.acknowledge_alert(bigint) FROM PUBLIC;

CREATE FUNCTION mlops._impl_resolve_alert(alert_id bigint)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    a mlops.alerts := mlops._alert_for_update(alert_id);
BEGIN
    IF a.resolved_at IS NOT NULL THEN
        RETURN;
    END IF;
    UPDATE mlops.alerts SET resolved_at = pg_catalog.now(), resolved_by = mlops.current_actor()
     WHERE alerts.alert_id OPERATOR(pg_catalog.=) a.alert_id;
    PERFORM mlops._audit_event('alert.resolve', 'alert', alert_id::text,
                               pg_catalog.jsonb_build_object('rule_id', a.rule_id));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_resolve_alert(bigint) FROM PUBLIC;
CREATE FUNCTION mlops.resolve_alert(alert_id bigint)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.resolve_alert(bigint) FROM PUBLIC;

-- alert returns one stored alert as jsonb, or NULL when there is none: what
-- a listener on mlops_alerts reads, since anyone can send on that channel
-- and its payload carries only the alert id and severity.
CREATE FUNCTION mlops.alert(alert_id bigint)
    RETURNS jsonb
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'alert_id', a.alert_id, 'rule_id', a.rule_id, 'rule_name', a.rule_name,
               'severity', a.severity, 'condition', a.condition, 'source', a.source,
               'metrics', a.metrics, 'labels', a.labels, 'fired_at', a.fired_at,
               'acknowledged', a.acknowledged, 'acknowledged_at', a.acknowledged_at,
               'acknowledged_by', a.acknowledged_by, 'resolved_at', a.resolved_at,
               'resolved_by', a.resolved_by, 'owner', a.owner::pg_catalog.text)
      FROM mlops.alerts a
     WHERE a.alert_id OPERATOR(pg_catalog.=) $1
$$;
REVOKE ALL ON FUNCTION mlops.alert(bigint) FROM PUBLIC;

------------------------------------------------------------------------
-- Readers of other capabilities' data, empty when those are not installed
------------------------------------------------------------------------

-- _prediction_stats_rows: mlops.prediction_stats (serving), or nothing.
CREATE FUNCTION mlops._prediction_stats_rows()
    RETURNS TABLE (model text, version integer, calls bigint, rows bigint, errors bigint,
                   total_ms float8, mean_ms float8, p50_ms float8, p95_ms float8, p99_ms float8)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.to_regclass('mlops.prediction_stats') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT s.model::text, s.version::integer, s.calls::bigint, s.rows::bigint, s.errors::bigint,
                s.total_ms::float8, s.mean_ms::float8, s.p50_ms::float8, s.p95_ms::float8, s.p99_ms::float8
           FROM mlops.prediction_stats s';
END
$$;
REVOKE ALL ON FUNCTION mlops._prediction_stats_rows() FROM PUBLIC;

-- _production_version: a model's Production version, or NULL.
CREATE FUNCTION mlops._production_version(p_model text)
    RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT v.version FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
     WHERE mo.name OPERATOR(pg_catalog.=) p_model AND v.stage OPERATOR(pg_catalog.=) 'Production'
$$;
REVOKE ALL ON FUNCTION mlops._production_version(text) FROM PUBLIC;

-- _model_prediction_stats: the statistics row that speaks for a model: its
-- Production version's, else the version with the most calls.
CREATE FUNCTION mlops._model_prediction_stats(p_model text)
    RETURNS TABLE (version integer, calls bigint, rows bigint, errors bigint,
                   mean_ms float8, p50_ms float8, p95_ms float8, p99_ms float8)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT s.version, s.calls, s.rows, s.errors, s.mean_ms, s.p50_ms, s.p95_ms, s.p99_ms
      FROM mlops._prediction_stats_rows() s
     WHERE s.model OPERATOR(pg_catalog.=) p_model
     ORDER BY s.version IS NOT DISTINCT FROM mlops._production_version(p_model) DESC, s.calls DESC, s.version DESC
     LIMIT 1
$$;
REVOKE ALL ON FUNCTION mlops._model_prediction_stats(text) FROM PUBLIC;

-- _latest_drift_rows: the latest result per reference, column and method
-- from mlops.drift_results (drift detection), or nothing.
CREATE FUNCTION mlops._latest_drift_rows()
    RETURNS TABLE (reference_name text, checked_at timestamptz, column_name text, method text,
                   value float8, p_value float8, threshold float8, drift boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.to_regclass('mlops.drift_results') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT DISTINCT ON (d.reference_name, d.column_name, d.method)
                d.reference_name::text, d.checked_at::timestamptz, d.column_name::text, d.method::text,
                d.value::float8, d.p_value::float8, d.threshold::float8, d.drift::boolean
           FROM mlops.drift_results d
          ORDER BY d.reference_name, d.column_name, d.method, d.checked_at DESC';
END
$$;
REVOKE ALL ON FUNCTION mlops._latest_drift_rows() FROM PUBLIC;

-- _drift_reference_of: the drift reference that speaks for a model: the one
-- set with set_monitor_drift, else the reference named like the model.
CREATE FUNCTION mlops._drift_reference_of(p_model text)
    RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE((SELECT m.drift_reference FROM mlops.monitors m
                      WHERE m.model OPERATOR(pg_catalog.=) p_model), p_model)
$$;
REVOKE ALL ON FUNCTION mlops._drift_reference_of(text) FROM PUBLIC;

-- _job_run_counts: runs per job and status from mlops.job_runs (scheduler), or nothing.
CREATE FUNCTION mlops._job_run_counts()
    RETURNS TABLE (job text, status text, runs bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.to_regclass('mlops.job_runs') IS NULL THEN
        RETURN;
    END IF;
    IF pg_catalog.to_regclass('mlops.jobs') IS NOT NULL THEN
        RETURN QUERY EXECUTE
            'SELECT COALESCE(j.job_name::text, r.job_id::text), r.status::text, pg_catalog.count(*)
               FROM mlops.job_runs r LEFT JOIN mlops.jobs j ON j.job_id OPERATOR(pg_catalog.=) r.job_id
              GROUP BY 1, 2';
    ELSE
        RETURN QUERY EXECUTE
            'SELECT r.job_id::text, r.status::text, pg_catalog.count(*) FROM mlops.job_runs r GROUP BY 1, 2';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_run_counts() FROM PUBLIC;

-- _latest_check: the newest degradation check of a model's monitor.
CREATE FUNCTION mlops._latest_check(p_model text)
    RETURNS mlops.monitor_checks
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.* FROM mlops.monitor_checks c JOIN mlops.monitors m ON m.monitor_id OPERATOR(pg_catalog.=) c.monitor_id
     WHERE m.model OPERATOR(pg_catalog.=) p_model
     ORDER BY c.check_id DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION mlops._latest_check(text) FROM PUBLIC;

------------------------------------------------------------------------
-- Metric sources for rules
------------------------------------------------------------------------

CREATE FUNCTION mlops._impl_current_metrics(model text)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    result jsonb := pg_catalog.jsonb_build_object('model', model);
    has_monitor boolean;
    s record;
    perf jsonb;
    chk mlops.monitor_checks;
    ref text := mlops._drift_reference_of(model);
    drift jsonb;
BEGIN
    SELECT EXISTS (SELECT 1 FROM mlops.monitors m WHERE m.model OPERATOR(pg_catalog.=) model) INTO has_monitor;
    IF NOT has_monitor AND NOT EXISTS (SELECT 1 FROM mlops.models mo WHERE mo.name OPERATOR(pg_catalog.=) model) THEN
        RAISE EXCEPTION 'model % is neither registered nor monitored', COALESCE(pg_catalog.quote_literal(pg_catalog.left(model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it, or create a monitor with mlops.create_monitor().';
    END IF;

    result := result OPERATOR(pg_catalog.||)
              pg_catalog.jsonb_build_object('production_version', mlops._production_version(model));

    -- serving statistics
    SELECT * INTO s FROM mlops._model_prediction_stats(model);
    IF FOUND THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'stats_version', s.version,
            'calls', s.calls,
            'prediction_rows', s.rows,
            'errors', s.errors,
            'error_rate', CASE WHEN s.calls OPERATOR(pg_catalog.>) 0
                               THEN s.errors::float8 OPERATOR(pg_catalog./) s.calls END,
            'mean_latency_ms', s.mean_ms,
            'p50_latency_ms', s.p50_ms,
            'p95_latency_ms', s.p95_ms,
            'p99_latency_ms', s.p99_ms);
    END IF;

    -- performance over the labelled window, and the latest degradation verdict
    IF has_monitor THEN
        perf := mlops.model_metrics(model);
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'labelled_rows', perf OPERATOR(pg_catalog.->) 'rows',
            'unlabelled_rows', perf OPERATOR(pg_catalog.->) 'unlabelled_rows');
        SELECT result OPERATOR(pg_catalog.||) COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
          INTO result
          FROM pg_catalog.jsonb_each(perf) e
         WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'number'
           AND e.key OPERATOR(pg_catalog.<>) ALL (ARRAY['rows', 'unlabelled_rows', 'window_size']);
        chk := mlops._latest_check(model);
        IF chk.check_id IS NOT NULL THEN
            result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
                'degradation_detected', chk.degradation_detected,
                'degradation_status', chk.status,
                'degraded_metrics_count', pg_catalog.cardinality(chk.degraded_metrics));
        END IF;
    END IF;

    -- the latest drift results of the model's reference, as drift.<column>.<method>
    SELECT pg_catalog.jsonb_build_object(
               'drift_reference', ref,
               'drift_detected', pg_catalog.bool_or(d.drift),
               'drift_columns', pg_catalog.count(DISTINCT d.column_name) FILTER (WHERE d.drift),
               'drift_share', (pg_catalog.count(DISTINCT d.column_name) FILTER (WHERE d.drift))::float8
                              OPERATOR(pg_catalog./) pg_catalog.count(DISTINCT d.column_name),
               'drift_checked_at', pg_catalog.max(d.checked_at))
           OPERATOR(pg_catalog.||)
           pg_catalog.jsonb_object_agg('drift.' OPERATOR(pg_catalog.||) d.column_name
                                       OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) d.method,
                                       d.value)
      INTO drift
      FROM mlops._latest_drift_rows() d
     WHERE d.reference_name OPERATOR(pg_catalog.=) ref
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0;
    IF drift IS NOT NULL THEN
        result := result OPERATOR(pg_catalog.||) drift;
    END IF;

    result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('open_alerts',
        (SELECT pg_catalog.count(*) FROM mlops.alerts a
          WHERE a.source OPERATOR(pg_catalog.=) model AND a.resolved_at IS NULL));
    RETURN result;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_current_metrics(text) FROM PUBLIC;
CREATE FUNCTION mlops.current_metrics(model text)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.current_metrics(text) FROM PUBLIC;

-- The monitoring pipeline is declared like the scheduler's pipelines
-- (sql/install/75_pipelines.sql): mlops.monitoring_pipeline is LANGUAGE C
-- with mlops_pipeline_trampoline (src/sched/pipelines.c) as its body, which calls
-- mlops._impl_monitoring_pipeline as the caller (each step checks that the
-- caller may change what it writes; the drift step reads the stored source
-- as the role that stored it, see mlops.check_monitor_drift) and records the
-- returned document in mlops.pipeline_runs and the audit log as the
-- extension owner.  The implementation raises only
-- for a NULL model; otherwise it never raises and returns {"status":
-- "succeeded"|"failed", "parameters", "steps": [{"step", "status",
-- "seconds", "result"|"error"|"reason"}], "result", "error"}.  A step that
-- fails is rolled back and recorded as failed, and the next steps still
-- run.  Everything here is qualified.
-- _monitor_pipeline_settings: whether a model is monitored and the drift
-- reference its pipeline checks (read as the owner; the operator bundle
-- grants it with monitoring_pipeline).
CREATE FUNCTION mlops._monitor_pipeline_settings(p_model text)
    RETURNS TABLE (monitored boolean, drift_reference text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT m.monitor_id IS NOT NULL, m.drift_reference
      FROM (SELECT 1) one LEFT JOIN mlops.monitors m ON m.model OPERATOR(pg_catalog.=) p_model
$$;
REVOKE ALL ON FUNCTION mlops._monitor_pipeline_settings(text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_monitoring_pipeline(model text)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_variable
DECLARE
    params jsonb := pg_catalog.jsonb_build_object('model', model);
    t0 timestamptz;
    steps jsonb := '[]';
    step text;
    reason text;
    step_result jsonb;
    entry jsonb;
    m record;
    drift jsonb;
    degradation jsonb;
    fired jsonb := '[]';
    failed text[] := '{}';
    msg text;
BEGIN
    IF model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO m FROM mlops._monitor_pipeline_settings(model);

    -- Every step is recorded the same way: skipped with its reason, or run
    -- in a subtransaction and recorded as succeeded with its result or as
    -- failed with its error (its work rolled back, the next steps still run).
    FOREACH step IN ARRAY ARRAY['drift', 'degradation', 'alerts'] LOOP
        t0 := pg_catalog.clock_timestamp();
        reason := CASE
            WHEN step OPERATOR(pg_catalog.=) 'drift' AND m.drift_reference IS NULL
                THEN 'no drift reference set (mlops.set_monitor_drift)'
            WHEN step OPERATOR(pg_catalog.=) 'degradation' AND NOT m.monitored
                THEN 'the model has no monitor (mlops.create_monitor)'
        END;
        IF reason IS NOT NULL THEN
            entry := pg_catalog.jsonb_build_object('step', step, 'status', 'skipped', 'reason', reason);
        ELSE
            BEGIN
                IF step OPERATOR(pg_catalog.=) 'drift' THEN
                    drift := mlops.check_monitor_drift(model);
                    step_result := pg_catalog.jsonb_build_object('reference', m.drift_reference,
                                       'drift_detected', drift OPERATOR(pg_catalog.->) 'drift_detected',
                                       'columns_with_drift', drift OPERATOR(pg_catalog.->) 'columns_with_drift');
                ELSIF step OPERATOR(pg_catalog.=) 'degradation' THEN
                    degradation := mlops.check_degradation(model);
                    step_result := degradation;
                ELSE
                    -- alerts over the current metrics
                    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('alert_id', a.alert_id,
                                                                                       'rule_id', a.rule_id,
                                                                                       'severity', a.severity)
                                                         ORDER BY a.alert_id), '[]')
                      INTO fired FROM mlops.check_alerts(mlops.current_metrics(model), model) a;
                    step_result := pg_catalog.jsonb_build_object('fired', fired);
                END IF;
                entry := pg_catalog.jsonb_build_object(
                    'step', step, 'status', 'succeeded',
                    'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                    'result', step_result);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
                failed := failed OPERATOR(pg_catalog.||) step;
                entry := pg_catalog.jsonb_build_object(
                    'step', step, 'status', 'failed',
                    'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                    'error', msg);
            END;
        END IF;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(entry);
    END LOOP;

    RETURN pg_catalog.jsonb_build_object(
        'status', CASE WHEN pg_catalog.cardinality(failed) OPERATOR(pg_catalog.=) 0 THEN 'succeeded' ELSE 'failed' END,
        'parameters', params, 'steps', steps,
        'result', pg_catalog.jsonb_build_object(
            'model', model, 'alerts_fired', pg_catalog.jsonb_array_length(fired),
            'drift_detected', drift OPERATOR(pg_catalog.->) 'drift_detected',
            'degradation_detected', degradation OPERATOR(pg_catalog.->) 'degradation_detected'))
        OPERATOR(pg_catalog.||)
        CASE WHEN pg_catalog.cardinality(failed) OPERATOR(pg_catalog.=) 0 THEN '{}'::jsonb
             ELSE pg_catalog.jsonb_build_object('error', 'failed steps: '
                                                OPERATOR(pg_catalog.||) pg_catalog.array_to_string(failed, ', ')) END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_monitoring_pipeline(text) FROM PUBLIC;

CREATE FUNCTION mlops.monitoring_pipeline(model text)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.monitoring_pipeline(text) FROM PUBLIC;

------------------------------------------------------------------------
-- Dashboard and Prometheus export
------------------------------------------------------------------------

CREATE FUNCTION mlops._dashboard_rows()
    RETURNS TABLE (model text, production_version integer, predictions_last_hour bigint,
                   calls bigint, error_rate float8, p50_ms float8, p95_ms float8, p99_ms float8,
                   drift_detected boolean, drift_checked_at timestamptz,
                   degradation_status text, degradation_detected boolean, degradation_checked_at timestamptz,
                   open_info bigint, open_warning bigint, open_critical bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH names AS (
        SELECT mo.name AS model FROM mlops.models mo
        UNION
        SELECT m.model FROM mlops.monitors m
    ), drift AS (
        SELECT d.reference_name, pg_catalog.bool_or(d.drift) AS drift, pg_catalog.max(d.checked_at) AS checked_at
          FROM mlops._latest_drift_rows() d GROUP BY d.reference_name
    )
    SELECT n.model,
           mlops._production_version(n.model),
           (SELECT pg_catalog.count(*) FROM mlops.monitor_predictions p JOIN mlops.monitors m
                ON m.monitor_id OPERATOR(pg_catalog.=) p.monitor_id
             WHERE m.model OPERATOR(pg_catalog.=) n.model
               AND p.recorded_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::interval)),
           s.calls,
           CASE WHEN s.calls OPERATOR(pg_catalog.>) 0 THEN s.errors::float8 OPERATOR(pg_catalog./) s.calls END,
           s.p50_ms, s.p95_ms, s.p99_ms,
           dr.drift, dr.checked_at,
           c.status, c.degradation_detected, c.checked_at,
           oa.info, oa.warning, oa.critical
      FROM names n
      LEFT JOIN LATERAL mlops._model_prediction_stats(n.model) s ON true
      LEFT JOIN drift dr ON dr.reference_name OPERATOR(pg_catalog.=) mlops._drift_reference_of(n.model)
      LEFT JOIN LATERAL mlops._latest_check(n.model) c ON true
      CROSS JOIN LATERAL (
          SELECT pg_catalog.count(*) FILTER (WHERE a.severity OPERATOR(pg_catalog.=) 'info') AS info,
                 pg_catalog.count(*) FILTER (WHERE a.severity OPERATOR(pg_catalog.=) 'warning') AS warning,
                 pg_catalog.count(*) FILTER (WHERE a.severity OPERATOR(pg_catalog.=) 'critical') AS critical
            FROM mlops.alerts a
           WHERE a.source OPERATOR(pg_catalog.=) n.model AND a.resolved_at IS NULL) oa
     ORDER BY n.model
$$;
REVOKE ALL ON FUNCTION mlops._dashboard_rows() FROM PUBLIC;

CREATE VIEW mlops.dashboard AS SELECT * FROM mlops._dashboard_rows();
REVOKE ALL ON mlops.dashboard FROM PUBLIC;

-- _prom_label escapes a label value for the Prometheus text format.
CREATE FUNCTION mlops._prom_label(v text)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT '"' OPERATOR(pg_catalog.||)
           pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(COALESCE(v, ''), E'\\', E'\\\\'),
                                                 '"', E'\\"'), E'\n', E'\\n')
           OPERATOR(pg_catalog.||) '"'
$$;
REVOKE ALL ON FUNCTION mlops._prom_label(text) FROM PUBLIC;

-- _prom_value writes a sample value as Prometheus expects (NaN, +Inf, -Inf).
CREATE FUNCTION mlops._prom_value(v float8)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN v IS NULL THEN 'NaN'
                WHEN v OPERATOR(pg_catalog.=) 'Infinity'::float8 THEN '+Inf'
                WHEN v OPERATOR(pg_catalog.=) '-Infinity'::float8 THEN '-Inf'
                ELSE v::text END
$$;
REVOKE ALL ON FUNCTION mlops._prom_value(float8) FROM PUBLIC;

-- _prom_family writes one metric family: HELP, TYPE and its sample lines.
CREATE FUNCTION mlops._prom_family(name text, kind text, help text, samples text)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', name, help, name, kind)
           OPERATOR(pg_catalog.||) COALESCE(samples, '')
$$;
REVOKE ALL ON FUNCTION mlops._prom_family(text, text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_prometheus_metrics()
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    out text;
    lines text;
    calls_lines text;
    rows_lines text;
    errors_lines text;
    latency_lines text;
BEGIN
    -- serving counters and the latency summary, in one pass over the statistics
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_predictions_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.calls), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_prediction_rows_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.rows), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_prediction_errors_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.errors), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(
               pg_catalog.format(E'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.5"} %3$s\n'
                                 'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.95"} %4$s\n'
                                 'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.99"} %5$s\n'
                                 'mlops_prediction_latency_seconds_sum{model=%1$s,version="%2$s"} %6$s\n'
                                 'mlops_prediction_latency_seconds_count{model=%1$s,version="%2$s"} %7$s\n',
                                 mlops._prom_label(s.model), s.version,
                                 mlops._prom_value(s.p50_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.p95_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.p99_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.total_ms OPERATOR(pg_catalog./) 1000), s.calls),
               '' ORDER BY s.model, s.version)
      INTO calls_lines, rows_lines, errors_lines, latency_lines
      FROM mlops._prediction_stats_rows() s;
    out := mlops._prom_family('mlops_predictions_total', 'counter',
               'Prediction calls served, per model version.', calls_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_rows_total', 'counter',
               'Rows predicted, per model version.', rows_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_errors_total', 'counter',
               'Prediction calls that raised an error, per model version.', errors_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_latency_seconds', 'summary',
               'Prediction call latency, per model version.', latency_lines);

    -- registry
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_versions{model=%s,stage=%s} %s\n',
                                                   mlops._prom_label(x.name), mlops._prom_label(x.stage), x.n),
                                 '' ORDER BY x.name, x.stage)
      INTO lines
      FROM (SELECT mo.name, st.stage, pg_catalog.count(v.version) AS n
              FROM mlops.models mo
             CROSS JOIN pg_catalog.unnest(ARRAY['None', 'Staging', 'Production', 'Archived']) st(stage)
              LEFT JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
                                              AND v.stage OPERATOR(pg_catalog.=) st.stage
             GROUP BY mo.name, st.stage) x;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_versions', 'gauge',
        'Registered model versions, per model and stage.', lines);

    -- drift
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_drift_score{reference=%s,column=%s,method=%s} %s\n',
                                                   mlops._prom_label(d.reference_name), mlops._prom_label(d.column_name),
                                                   mlops._prom_label(d.method), mlops._prom_value(d.value)),
                                 '' ORDER BY d.reference_name, d.column_name, d.method)
      INTO lines FROM mlops._latest_drift_rows() d;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_drift_score', 'gauge',
        'Latest drift statistic, per reference, column and method.', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_drift_detected{reference=%s,column=%s,method=%s} %s\n',
                                                   mlops._prom_label(d.reference_name), mlops._prom_label(d.column_name),
                                                   mlops._prom_label(d.method), d.drift::integer),
                                 '' ORDER BY d.reference_name, d.column_name, d.method)
      INTO lines FROM mlops._latest_drift_rows() d;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_drift_detected', 'gauge',
        'Whether the latest drift check found drift (1) or not (0).', lines);

    -- performance monitors
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_degraded{model=%s} %s\n',
                                                   mlops._prom_label(m.model), c.degradation_detected::integer),
                                 '' ORDER BY m.model)
      INTO lines FROM mlops.monitors m, LATERAL mlops._latest_check(m.model) c WHERE c.check_id IS NOT NULL;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_degraded', 'gauge',
        'Whether the latest degradation check found the model worse than its baseline (1) or not (0).', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_metric{model=%s,metric=%s} %s\n',
                                                   mlops._prom_label(m.model), mlops._prom_label(e.key),
                                                   mlops._prom_value((e.value #>> '{}')::float8)),
                                 '' ORDER BY m.model, e.key)
      INTO lines FROM mlops.monitors m, LATERAL mlops._latest_check(m.model) c,
                      LATERAL pg_catalog.jsonb_each(c.result OPERATOR(pg_catalog.->) 'current') e
     WHERE c.check_id IS NOT NULL;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_metric', 'gauge',
        'Performance metric at the latest degradation check, per model.', lines);

    -- alerts
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_alerts_open{severity="%s"} %s\n', sv.severity,
                                                   (SELECT pg_catalog.count(*) FROM mlops.alerts a
                                                     WHERE a.resolved_at IS NULL
                                                       AND a.severity OPERATOR(pg_catalog.=) sv.severity)),
                                 '' ORDER BY sv.ord)
      INTO lines FROM pg_catalog.unnest(ARRAY['info', 'warning', 'critical']) WITH ORDINALITY sv(severity, ord);
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_alerts_open', 'gauge',
        'Alerts not yet resolved, per severity.', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_alerts_fired_total{severity="%s"} %s\n', sv.severity,
                                                   (SELECT pg_catalog.count(*) FROM mlops.alerts a
                                                     WHERE a.severity OPERATOR(pg_catalog.=) sv.severity)),
                                 '' ORDER BY sv.ord)
      INTO lines FROM pg_catalog.unnest(ARRAY['info', 'warning', 'critical']) WITH ORDINALITY sv(severity, ord);
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_alerts_fired_total', 'counter',
        'Alerts fired, per severity.', lines);

    -- scheduler: only the runs of jobs the caller may see (mlops._may_see_job:
    -- its own and its groups', all for auditors, admins and the extension owner)
    lines := NULL;
    IF pg_catalog.to_regclass('mlops.job_runs') IS NOT NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_job_runs_total{job=%s,owner=%s,status=%s} %s\n',
                                                       mlops._prom_label(c.job_name),
                                                       mlops._prom_label(pg_catalog.pg_get_userbyid(c.owner)),
                                                       mlops._prom_label(c.status), c.runs),
                                     '' ORDER BY c.job_name, pg_catalog.pg_get_userbyid(c.owner), c.status)
          INTO lines
          FROM (SELECT r.job_name, r.owner, r.status, pg_catalog.count(*) AS runs
                  FROM mlops.job_runs r GROUP BY r.job_name, r.owner, r.status) c
         WHERE mlops._may_see_job(c.owner);
    END IF;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_job_runs_total', 'counter',
        'Scheduled job runs, per job, owner and outcome.', lines);
    RETURN out;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_prometheus_metrics() FROM PUBLIC;
CREATE FUNCTION mlops.prometheus_metrics()
    RETURNS text LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.prometheus_metrics() FROM PUBLIC;

-- Alert actions (docs/deployments.md#the-closed-loop): when a rule fires,
-- the scheduler runs a job (as the job's owner, like any run), at most once
-- per the rule's cooldown.  One action per rule; its owner is the role that
-- set it, which must own both the rule and the job.
CREATE TABLE mlops.alert_actions (
    rule_id     text PRIMARY KEY REFERENCES mlops.alert_rules (rule_id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES mlops.jobs (job_id) ON DELETE CASCADE,
    last_run_at timestamptz,
    created_by  name NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner       regrole NOT NULL
);
REVOKE ALL ON mlops.alert_actions FROM PUBLIC;

-- set_alert_action makes the rule run the job when it fires; job_name NULL
-- removes the rule's action.
CREATE FUNCTION mlops._impl_set_alert_action(rule_id text, job_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.alert_rules := mlops._alert_rule_for_update(rule_id);
    j mlops.jobs;
BEGIN
    IF job_name IS NULL THEN
        DELETE FROM mlops.alert_actions a WHERE a.rule_id OPERATOR(pg_catalog.=) r.rule_id;
        PERFORM mlops._audit_event('alert_action.drop', 'alert_rule', r.rule_id, '{}');
        RETURN;
    END IF;
    -- the job runs as its owner: only that owner (or a member) may attach it
    j := mlops._own_job(job_name);
    INSERT INTO mlops.alert_actions AS a (rule_id, job_id, created_by, owner)
    VALUES (r.rule_id, j.job_id, mlops.current_actor(), mlops.current_actor()::regrole)
    ON CONFLICT ON CONSTRAINT alert_actions_pkey DO UPDATE
       SET job_id = EXCLUDED.job_id, last_run_at = NULL, created_by = EXCLUDED.created_by,
           created_at = pg_catalog.now(), owner = EXCLUDED.owner;
    PERFORM mlops._audit_event('alert_action.set', 'alert_rule', r.rule_id,
        pg_catalog.jsonb_build_object('job_id', j.job_id, 'job_name', j.job_name, 'job_owner', j.owner_name));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_alert_action(text, text) FROM PUBLIC;
CREATE FUNCTION mlops.set_alert_action(rule_id text, job_name text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_alert_action(text, text) FROM PUBLIC;

-- _alert_action_run: a stored alert asks the scheduler to run its rule's
-- job (mlops.jobs.run_requested, as mlops.run_job does) unless it ran within
-- the rule's cooldown.
CREATE FUNCTION mlops._alert_action_run() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a mlops.alert_actions;
    j mlops.jobs;
BEGIN
    SELECT x.* INTO a FROM mlops.alert_actions x
      JOIN mlops.alert_rules r ON r.rule_id OPERATOR(pg_catalog.=) x.rule_id
     WHERE x.rule_id OPERATOR(pg_catalog.=) NEW.rule_id
       AND (x.last_run_at IS NULL
            OR x.last_run_at OPERATOR(pg_catalog.+) r.cooldown OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp())
       FOR UPDATE OF x;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE mlops.jobs x SET run_requested = true
     WHERE x.job_id OPERATOR(pg_catalog.=) a.job_id AND x.paused_reason IS NULL
    RETURNING * INTO j;
    UPDATE mlops.alert_actions x SET last_run_at = pg_catalog.clock_timestamp()
     WHERE x.rule_id OPERATOR(pg_catalog.=) a.rule_id;
    PERFORM mlops._audit_event('alert_action.run', 'job', a.job_id::text,
        pg_catalog.jsonb_build_object('rule_id', NEW.rule_id, 'alert_id', NEW.alert_id,
                                      'job_name', j.job_name, 'requested', j.job_id IS NOT NULL));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mlops._alert_action_run() FROM PUBLIC;
CREATE TRIGGER alerts_run_action AFTER INSERT ON mlops.alerts
    FOR EACH ROW EXECUTE FUNCTION mlops._alert_action_run();
