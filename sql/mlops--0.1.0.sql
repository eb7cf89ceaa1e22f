-- mlops 0.1.0 install script, assembled from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION mlops" to load this file. \quit

-- The schema is created by CREATE EXTENSION (schema = mlops in mlops.control).
-- Nothing in it is usable by PUBLIC: docs/security.md gives the GRANT recipes.
REVOKE ALL ON SCHEMA mlops FROM PUBLIC;

-- current_actor: the role that called the outermost active mlops function
-- (see src/security.c); current_user outside one.
CREATE FUNCTION mlops.current_actor() RETURNS name
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_current_actor';
REVOKE ALL ON FUNCTION mlops.current_actor() FROM PUBLIC;

-- _require_object raises a clear error unless value is a JSON object.
CREATE FUNCTION mlops._require_object(value jsonb, argname text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value IS NULL OR pg_catalog.jsonb_typeof(value) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'argument "%" must be a JSON object', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(pg_catalog.jsonb_typeof(value), 'NULL')),
                  HINT = pg_catalog.format('Pass an object such as ''{"key": "value"}''::jsonb as %s.', argname);
    END IF;
    RETURN value;
END
$$;
REVOKE ALL ON FUNCTION mlops._require_object(jsonb, text) FROM PUBLIC;
-- Audit log: every state-changing mlops function appends an event in the
-- same transaction as its change.  Append-only for everyone but its owner.

CREATE TABLE mlops.audit_log (
    event_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action            text NOT NULL CHECK (action OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$'),
    origin            text NOT NULL DEFAULT 'mlops' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['mlops', 'application'])),
    user_name         name NOT NULL,
    session_user_name name NOT NULL,
    resource_type     text NOT NULL,
    resource_id       text,
    details           jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(details) OPERATOR(pg_catalog.=) 'object'),
    client_addr       inet,
    application_name  text,
    transaction_id    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id()
);
CREATE INDEX audit_log_time_idx ON mlops.audit_log (event_time);
CREATE INDEX audit_log_action_time_idx ON mlops.audit_log (action, event_time);
REVOKE ALL ON mlops.audit_log FROM PUBLIC;

-- _audit_log_guard makes the log append-only for everyone but its owner.
CREATE FUNCTION mlops._audit_log_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    owner name;
BEGIN
    SELECT r.rolname INTO owner
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.relowner
     WHERE c.oid OPERATOR(pg_catalog.=) TG_RELID;
    IF current_user OPERATOR(pg_catalog.<>) owner THEN
        RAISE EXCEPTION 'mlops.audit_log is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('%s on the audit log is allowed only to the role that owns it.', TG_OP),
                  HINT = 'Add events with mlops.audit(); read them with mlops.audit_events().';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        RETURN NULL;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION mlops._audit_log_guard() FROM PUBLIC;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON mlops.audit_log
    FOR EACH ROW EXECUTE FUNCTION mlops._audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON mlops.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._audit_log_guard();

-- _audit_event appends one event; internal (used by every mlops function).
CREATE FUNCTION mlops._audit_event(action text, resource_type text, resource_id text,
                                   details jsonb DEFAULT '{}', origin text DEFAULT 'mlops')
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    INSERT INTO mlops.audit_log (action, origin, user_name, session_user_name, resource_type,
                                 resource_id, details, client_addr, application_name)
    VALUES ($1, $5, mlops.current_actor(), session_user, $2, $3, COALESCE($4, '{}'),
            pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true))
    RETURNING event_id
$$;
REVOKE ALL ON FUNCTION mlops._audit_event(text, text, text, jsonb, text) FROM PUBLIC;

-- audit lets applications record their own events.
CREATE FUNCTION mlops._impl_audit(action text, resource_type text, resource_id text, details jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF action IS NULL OR action OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$' THEN
        RAISE EXCEPTION 'invalid audit action %', COALESCE(pg_catalog.quote_literal(action), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Actions are lower-case dotted words.',
                  HINT = 'Use a name such as ''app.export'' or ''report.generate''.';
    END IF;
    IF resource_type IS NULL OR resource_type OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'resource_type must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the kind of object the event is about, such as ''model'' or ''report''.';
    END IF;
    PERFORM mlops._require_object(details, 'details');
    RETURN mlops._audit_event(action, resource_type, resource_id, details, 'application');
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_audit(text, text, text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.audit(action text, resource_type text, resource_id text, details jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.audit(text, text, text, jsonb) FROM PUBLIC;

-- audit_events returns events, newest first.
CREATE FUNCTION mlops.audit_events(action text DEFAULT NULL, since timestamptz DEFAULT NULL,
                                   until timestamptz DEFAULT NULL, max_rows integer DEFAULT 100)
    RETURNS SETOF mlops.audit_log
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(max_rows::text, 'NULL'));
    END IF;
    IF since IS NOT NULL AND until IS NOT NULL AND since OPERATOR(pg_catalog.>) until THEN
        RAISE EXCEPTION 'since must not be later than until'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT * FROM mlops.audit_log l
         WHERE ($1 IS NULL OR l.action OPERATOR(pg_catalog.=) $1
                OR l.action OPERATOR(pg_catalog.^@) ($1 OPERATOR(pg_catalog.||) '.'))
           AND ($2 IS NULL OR l.event_time OPERATOR(pg_catalog.>=) $2)
           AND ($3 IS NULL OR l.event_time OPERATOR(pg_catalog.<) $3)
         ORDER BY l.event_id DESC
         LIMIT $4;
END
$$;
REVOKE ALL ON FUNCTION mlops.audit_events(text, timestamptz, timestamptz, integer) FROM PUBLIC;
-- Experiment tracking: experiments, runs, parameters, metrics and tags,
-- as MLflow's tracking server keeps them, in tables.

CREATE TABLE mlops.experiments (
    experiment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name OPERATOR(pg_catalog.<>) ''),
    description   text,
    tags          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL
);
REVOKE ALL ON mlops.experiments FROM PUBLIC;

CREATE TABLE mlops.runs (
    run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES mlops.experiments (experiment_id),
    run_name      text NOT NULL,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'finished', 'failed', 'killed'])),
    params        jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
    tags          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    started_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ended_at      timestamptz,
    created_by    name NOT NULL,
    CHECK ((status OPERATOR(pg_catalog.=) 'running') OPERATOR(pg_catalog.=) (ended_at IS NULL))
);
CREATE INDEX runs_experiment_idx ON mlops.runs (experiment_id, run_id);
REVOKE ALL ON mlops.runs FROM PUBLIC;

-- Every logged metric value, in order: the history.
CREATE TABLE mlops.run_metrics (
    run_id    bigint NOT NULL REFERENCES mlops.runs (run_id) ON DELETE CASCADE,
    key       text NOT NULL CHECK (key OPERATOR(pg_catalog.<>) ''),
    value     float8 NOT NULL,
    step      integer NOT NULL DEFAULT 0,
    logged_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX run_metrics_run_key_idx ON mlops.run_metrics (run_id, key, step);
REVOKE ALL ON mlops.run_metrics FROM PUBLIC;

-- The latest value per run and key (highest step, then latest logged), kept
-- by log_metrics so that comparisons read one row per metric.
CREATE TABLE mlops.run_latest_metrics (
    run_id    bigint NOT NULL REFERENCES mlops.runs (run_id) ON DELETE CASCADE,
    key       text NOT NULL,
    value     float8 NOT NULL,
    step      integer NOT NULL,
    logged_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, key)
);
REVOKE ALL ON mlops.run_latest_metrics FROM PUBLIC;

-- _run_for_update locks a run and checks it exists (and, when must_be_running, is running).
CREATE FUNCTION mlops._run_for_update(p_run_id bigint, must_be_running boolean)
    RETURNS mlops.runs
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
BEGIN
    SELECT * INTO r FROM mlops.runs WHERE run_id OPERATOR(pg_catalog.=) p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', COALESCE(p_run_id::text, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Start a run with mlops.start_run(); list runs with mlops.compare_runs().';
    END IF;
    IF must_be_running AND r.status OPERATOR(pg_catalog.<>) 'running' THEN
        RAISE EXCEPTION 'run % has ended', p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Its status is %s.', r.status),
                  HINT = 'Start a new run with mlops.start_run() to log more.';
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION mlops._run_for_update(bigint, boolean) FROM PUBLIC;

-- create_experiment
CREATE FUNCTION mlops._impl_create_experiment(name text, description text, tags jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
BEGIN
    IF name IS NULL OR pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'experiment name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mlops._require_object(tags, 'tags');
    INSERT INTO mlops.experiments (name, description, tags, created_by)
    VALUES (name, description, tags, mlops.current_actor())
    ON CONFLICT DO NOTHING
    RETURNING experiment_id INTO id;
    IF id IS NULL THEN
        RAISE EXCEPTION 'experiment "%" already exists', name
            USING ERRCODE = 'unique_violation',
                  HINT = 'Use another name, or start runs in it with mlops.start_run().';
    END IF;
    PERFORM mlops._audit_event('experiment.create', 'experiment', id::text,
                               pg_catalog.jsonb_build_object('name', name, 'tags', tags));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_create_experiment(text, text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.create_experiment(name text, description text DEFAULT NULL, tags jsonb DEFAULT '{}')
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.create_experiment(text, text, jsonb) FROM PUBLIC;

-- start_run
CREATE FUNCTION mlops._impl_start_run(experiment text, run_name text, tags jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    exp_id bigint;
    id bigint;
BEGIN
    IF experiment IS NULL OR pg_catalog.btrim(experiment) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'experiment name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mlops._require_object(tags, 'tags');
    SELECT e.experiment_id INTO exp_id FROM mlops.experiments e WHERE e.name OPERATOR(pg_catalog.=) experiment;
    IF exp_id IS NULL THEN
        INSERT INTO mlops.experiments (name, created_by) VALUES (experiment, mlops.current_actor())
        ON CONFLICT DO NOTHING RETURNING experiment_id INTO exp_id;
        IF exp_id IS NULL THEN      -- created concurrently
            SELECT e.experiment_id INTO STRICT exp_id FROM mlops.experiments e
             WHERE e.name OPERATOR(pg_catalog.=) experiment;
        ELSE
            PERFORM mlops._audit_event('experiment.create', 'experiment', exp_id::text,
                                       pg_catalog.jsonb_build_object('name', experiment, 'tags', '{}'::jsonb));
        END IF;
    END IF;
    INSERT INTO mlops.runs (experiment_id, run_name, tags, created_by)
    VALUES (exp_id, COALESCE(run_name, ''), tags, mlops.current_actor())
    RETURNING run_id INTO id;
    IF run_name IS NULL THEN
        UPDATE mlops.runs SET run_name = 'run-' OPERATOR(pg_catalog.||) id WHERE run_id OPERATOR(pg_catalog.=) id;
    END IF;
    PERFORM mlops._audit_event('run.start', 'run', id::text,
                               pg_catalog.jsonb_build_object('experiment', experiment,
                                   'run_name', COALESCE(run_name, 'run-' OPERATOR(pg_catalog.||) id)));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_start_run(text, text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.start_run(experiment text, run_name text DEFAULT NULL, tags jsonb DEFAULT '{}')
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.start_run(text, text, jsonb) FROM PUBLIC;

-- log_params: write-once per key
CREATE FUNCTION mlops._impl_log_params(run_id bigint, params jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.runs;
    conflicts text;
BEGIN
    PERFORM mlops._require_object(params, 'params');
    r := mlops._run_for_update(run_id, true);
    SELECT pg_catalog.string_agg(pg_catalog.format('%s: logged %s, now %s', n.key, o.value, n.value), '; ' ORDER BY n.key)
      INTO conflicts
      FROM pg_catalog.jsonb_each(params) n
      JOIN pg_catalog.jsonb_each(r.params) o ON o.key OPERATOR(pg_catalog.=) n.key
     WHERE o.value OPERATOR(pg_catalog.<>) n.value;
    IF conflicts IS NOT NULL THEN
        RAISE EXCEPTION 'parameters of run % cannot be changed', run_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = conflicts OPERATOR(pg_catalog.||) '.',
                  HINT = 'Parameters are write-once; start a new run to try other values.';
    END IF;
    UPDATE mlops.runs SET params = r.params OPERATOR(pg_catalog.||) params
     WHERE runs.run_id OPERATOR(pg_catalog.=) r.run_id;
    PERFORM mlops._audit_event('run.log_params', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('params', params));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_params(bigint, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.log_params(run_id bigint, params jsonb)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.log_params(bigint, jsonb) FROM PUBLIC;

-- _metric_value turns a JSON metric value into float8: numbers, and the
-- strings "NaN", "Infinity", "-Infinity" (JSON has no literal for them).
CREATE FUNCTION mlops._metric_value(v jsonb) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'number' THEN (v #>> '{}')::float8
        WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'string'
             AND pg_catalog.lower(v #>> '{}') OPERATOR(pg_catalog.=) ANY (ARRAY['nan', 'infinity', '-infinity', 'inf', '-inf'])
            THEN (v #>> '{}')::float8
    END
$$;
REVOKE ALL ON FUNCTION mlops._metric_value(jsonb) FROM PUBLIC;

-- log_metrics: appends to the history and keeps the latest value per key
CREATE FUNCTION mlops._impl_log_metrics(run_id bigint, metrics jsonb, step integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    bad text;
    ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    PERFORM mlops._require_object(metrics, 'metrics');
    IF step IS NULL THEN
        RAISE EXCEPTION 'step must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := mlops._run_for_update(run_id, true);
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = %s', m.key, m.value), ', ' ORDER BY m.key)
      INTO bad
      FROM pg_catalog.jsonb_each(metrics) m
     WHERE mlops._metric_value(m.value) IS NULL OR m.key OPERATOR(pg_catalog.=) '';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'metric values must be numbers'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Not numeric: %s.', bad),
                  HINT = 'Use JSON numbers, or the strings "NaN", "Infinity" and "-Infinity".';
    END IF;
    INSERT INTO mlops.run_metrics (run_id, key, value, step, logged_at)
    SELECT r.run_id, m.key, mlops._metric_value(m.value), step, ts
      FROM pg_catalog.jsonb_each(metrics) m;
    INSERT INTO mlops.run_latest_metrics AS l (run_id, key, value, step, logged_at)
    SELECT r.run_id, m.key, mlops._metric_value(m.value), step, ts
      FROM pg_catalog.jsonb_each(metrics) m
    ON CONFLICT ON CONSTRAINT run_latest_metrics_pkey DO UPDATE
       SET value = EXCLUDED.value, step = EXCLUDED.step, logged_at = EXCLUDED.logged_at
     WHERE l.step OPERATOR(pg_catalog.<=) EXCLUDED.step;
    PERFORM mlops._audit_event('run.log_metrics', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('keys', (SELECT pg_catalog.jsonb_agg(k ORDER BY k)
                                                                        FROM pg_catalog.jsonb_object_keys(metrics) k),
                                                             'step', step));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_metrics(bigint, jsonb, integer) FROM PUBLIC;
CREATE FUNCTION mlops.log_metrics(run_id bigint, metrics jsonb, step integer DEFAULT 0)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.log_metrics(bigint, jsonb, integer) FROM PUBLIC;

-- _log_metric_history: logs many (key, step, value) rows of a running run in
-- one call and one run.log_metrics audit event (keys, step range, row count);
-- mlops.train logs its per-round evaluations and final metrics with it.  The
-- latest value per key ends as logging the rows one by one with log_metrics,
-- in array order, would leave it: the highest step wins, and among equal
-- steps the last row.  Internal: only the extension owner may run it.
CREATE FUNCTION mlops._log_metric_history(run_id bigint, keys text[], steps integer[],
                                          metric_values float8[])
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    n integer := pg_catalog.cardinality(keys);
    ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF keys IS NULL OR steps IS NULL OR metric_values IS NULL
       OR pg_catalog.array_position(keys, NULL) IS NOT NULL
       OR pg_catalog.array_position(steps, NULL) IS NOT NULL
       OR pg_catalog.array_position(metric_values, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'metric history must not contain NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass one key, one step and one value per row; NaN and infinities are values.';
    END IF;
    IF pg_catalog.cardinality(steps) OPERATOR(pg_catalog.<>) n
       OR pg_catalog.cardinality(metric_values) OPERATOR(pg_catalog.<>) n THEN
        RAISE EXCEPTION 'metric history arrays must have the same length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Lengths: keys %s, steps %s, values %s.', n,
                                             pg_catalog.cardinality(steps), pg_catalog.cardinality(metric_values));
    END IF;
    IF '' OPERATOR(pg_catalog.=) ANY (keys) THEN
        RAISE EXCEPTION 'metric keys must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := mlops._run_for_update(run_id, true);
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    INSERT INTO mlops.run_metrics (run_id, key, value, step, logged_at)
    SELECT r.run_id, h.key, h.value, h.step, ts
      FROM ROWS FROM (pg_catalog.unnest(keys), pg_catalog.unnest(steps), pg_catalog.unnest(metric_values))
           WITH ORDINALITY AS h(key, step, value, ord)
     ORDER BY h.ord;
    INSERT INTO mlops.run_latest_metrics AS l (run_id, key, value, step, logged_at)
    SELECT DISTINCT ON (h.key) r.run_id, h.key, h.value, h.step, ts
      FROM ROWS FROM (pg_catalog.unnest(keys), pg_catalog.unnest(steps), pg_catalog.unnest(metric_values))
           WITH ORDINALITY AS h(key, step, value, ord)
     ORDER BY h.key, h.step DESC, h.ord DESC
    ON CONFLICT ON CONSTRAINT run_latest_metrics_pkey DO UPDATE
       SET value = EXCLUDED.value, step = EXCLUDED.step, logged_at = EXCLUDED.logged_at
     WHERE l.step OPERATOR(pg_catalog.<=) EXCLUDED.step;
    PERFORM mlops._audit_event('run.log_metrics', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object(
                                   'keys', (SELECT pg_catalog.jsonb_agg(k ORDER BY k)
                                              FROM (SELECT DISTINCT k FROM pg_catalog.unnest(keys) k) d),
                                   'min_step', (SELECT pg_catalog.min(s) FROM pg_catalog.unnest(steps) s),
                                   'max_step', (SELECT pg_catalog.max(s) FROM pg_catalog.unnest(steps) s),
                                   'rows', n));
END
$$;
REVOKE ALL ON FUNCTION mlops._log_metric_history(bigint, text[], integer[], float8[]) FROM PUBLIC;

-- set_tags: merges tags (allowed on ended runs too, as in MLflow)
CREATE FUNCTION mlops._impl_set_tags(run_id bigint, tags jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.runs;
BEGIN
    PERFORM mlops._require_object(tags, 'tags');
    r := mlops._run_for_update(run_id, false);
    UPDATE mlops.runs SET tags = r.tags OPERATOR(pg_catalog.||) tags
     WHERE runs.run_id OPERATOR(pg_catalog.=) r.run_id;
    PERFORM mlops._audit_event('run.set_tags', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('tags', tags));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_tags(bigint, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.set_tags(run_id bigint, tags jsonb)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_tags(bigint, jsonb) FROM PUBLIC;

-- end_run
CREATE FUNCTION mlops._impl_end_run(run_id bigint, status text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    st text := pg_catalog.lower(status);
BEGIN
    IF st IS NULL OR st OPERATOR(pg_catalog.<>) ALL (ARRAY['finished', 'failed', 'killed']) THEN
        RAISE EXCEPTION 'invalid run status %', COALESCE(pg_catalog.quote_literal(status), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use finished, failed or killed.';
    END IF;
    r := mlops._run_for_update(run_id, true);
    UPDATE mlops.runs SET status = st, ended_at = pg_catalog.now()
     WHERE runs.run_id OPERATOR(pg_catalog.=) r.run_id;
    PERFORM mlops._audit_event('run.end', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('status', st));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_end_run(bigint, text) FROM PUBLIC;
CREATE FUNCTION mlops.end_run(run_id bigint, status text DEFAULT 'finished')
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.end_run(bigint, text) FROM PUBLIC;

-- compare_runs: the runs of an experiment with their latest metrics,
-- ordered by one metric (runs without it last), then by run_id.
CREATE FUNCTION mlops.compare_runs(experiment text, metric text DEFAULT NULL, ascending boolean DEFAULT false)
    RETURNS TABLE(run_id bigint, run_name text, status text, params jsonb, metrics jsonb,
                  started_at timestamptz, ended_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    exp_id bigint;
BEGIN
    SELECT e.experiment_id INTO exp_id FROM mlops.experiments e WHERE e.name OPERATOR(pg_catalog.=) experiment;
    IF exp_id IS NULL THEN
        RAISE EXCEPTION 'experiment "%" does not exist', experiment
            USING ERRCODE = 'undefined_object',
                  HINT = (SELECT COALESCE('Existing experiments: ' OPERATOR(pg_catalog.||)
                                 pg_catalog.string_agg(x.name, ', ' ORDER BY x.name) OPERATOR(pg_catalog.||) '.',
                                 'No experiment exists yet; create one with mlops.create_experiment().')
                            FROM (SELECT e.name FROM mlops.experiments e ORDER BY e.name LIMIT 20) x);
    END IF;
    RETURN QUERY
        SELECT r.run_id, r.run_name, r.status, r.params,
               COALESCE((SELECT pg_catalog.jsonb_object_agg(l.key, pg_catalog.to_jsonb(l.value))
                           FROM mlops.run_latest_metrics l WHERE l.run_id OPERATOR(pg_catalog.=) r.run_id),
                        '{}'::jsonb),
               r.started_at, r.ended_at
          FROM mlops.runs r
          LEFT JOIN mlops.run_latest_metrics m
                 ON m.run_id OPERATOR(pg_catalog.=) r.run_id AND m.key OPERATOR(pg_catalog.=) metric
         WHERE r.experiment_id OPERATOR(pg_catalog.=) exp_id
         ORDER BY CASE WHEN ascending THEN m.value END ASC NULLS LAST,
                  CASE WHEN NOT ascending THEN m.value END DESC NULLS LAST,
                  r.run_id;
END
$$;
REVOKE ALL ON FUNCTION mlops.compare_runs(text, text, boolean) FROM PUBLIC;
-- Model registry: models, their versions with stages, and aliases, as in
-- MLflow's registry.  Model references ('churn', 'churn/3', 'churn/Staging',
-- 'churn/latest', 'churn@champion') are resolved by mlops.resolve_model.

CREATE TABLE mlops.models (
    model_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    description text,
    tags        jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL
);
REVOKE ALL ON mlops.models FROM PUBLIC;

CREATE TABLE mlops.model_versions (
    model_id      bigint NOT NULL REFERENCES mlops.models (model_id),
    version       integer NOT NULL CHECK (version OPERATOR(pg_catalog.>) 0),
    stage         text NOT NULL DEFAULT 'None'
                  CHECK (stage OPERATOR(pg_catalog.=) ANY (ARRAY['None', 'Staging', 'Production', 'Archived'])),
    run_id        bigint REFERENCES mlops.runs (run_id),
    task          text CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression', 'ranking', 'survival', 'other'])),
    algorithm     text NOT NULL DEFAULT 'xgboost',
    feature_names text[],
    input_schema  jsonb,
    metrics       jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(metrics) OPERATOR(pg_catalog.=) 'object'),
    params        jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
    tags          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    model_format  text NOT NULL DEFAULT 'json' CHECK (model_format OPERATOR(pg_catalog.=) 'json'),
    model_data    bytea NOT NULL,
    model_size    bigint NOT NULL,
    model_sha256  bytea NOT NULL CHECK (pg_catalog.length(model_sha256) OPERATOR(pg_catalog.=) 32),
    stage_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL,
    PRIMARY KEY (model_id, version)
);
-- At most one Production version per model, enforced by the schema.
CREATE UNIQUE INDEX model_versions_one_production ON mlops.model_versions (model_id)
    WHERE stage OPERATOR(pg_catalog.=) 'Production';
ALTER TABLE mlops.model_versions ALTER COLUMN model_data SET STORAGE EXTERNAL;
REVOKE ALL ON mlops.model_versions FROM PUBLIC;

CREATE TABLE mlops.model_aliases (
    model_id   bigint NOT NULL,
    alias      text NOT NULL CHECK (alias OPERATOR(pg_catalog.~) '^[A-Za-z_][A-Za-z0-9_-]{0,63}$'),
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES mlops.model_versions (model_id, version) ON DELETE CASCADE
);
REVOKE ALL ON mlops.model_aliases FROM PUBLIC;

-- Every change to the registry invalidates the model caches of all
-- backends when its transaction commits (see src/registry.c).
CREATE FUNCTION mlops._registry_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops_registry_changed';
REVOKE ALL ON FUNCTION mlops._registry_changed() FROM PUBLIC;
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.models
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();
CREATE TRIGGER model_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();
CREATE TRIGGER model_aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.model_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();

-- _canonical_stage maps a stage name, in any case, to its stored spelling.
CREATE FUNCTION mlops._canonical_stage(stage text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s text := CASE pg_catalog.lower(stage)
                  WHEN 'none' THEN 'None' WHEN 'staging' THEN 'Staging'
                  WHEN 'production' THEN 'Production' WHEN 'archived' THEN 'Archived' END;
BEGIN
    IF s IS NULL THEN
        RAISE EXCEPTION 'invalid stage %', COALESCE(pg_catalog.quote_literal(stage), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Stages are None, Staging, Production and Archived (in any case).';
    END IF;
    RETURN s;
END
$$;
REVOKE ALL ON FUNCTION mlops._canonical_stage(text) FROM PUBLIC;

-- _model_for_update locks a model by name (serialising version numbering and
-- stage transitions per model) and returns its id.
CREATE FUNCTION mlops._model_for_update(model_name text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
BEGIN
    SELECT m.model_id INTO id FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) model_name FOR UPDATE;
    IF id IS NULL THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = mlops._models_hint();
    END IF;
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._model_for_update(text) FROM PUBLIC;

-- _models_hint lists some existing models, for error hints.
CREATE FUNCTION mlops._models_hint() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE('Existing models: ' OPERATOR(pg_catalog.||) pg_catalog.string_agg(x.name, ', ' ORDER BY x.name)
                    OPERATOR(pg_catalog.||) '.',
                    'No model is registered yet; train one with mlops.train() or import one with mlops.import_model().')
      FROM (SELECT m.name FROM mlops.models m ORDER BY m.name LIMIT 20) x
$$;
REVOKE ALL ON FUNCTION mlops._models_hint() FROM PUBLIC;

-- _versions_hint describes what a model has, for error hints.
CREATE FUNCTION mlops._versions_hint(p_model_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.format('It has %s.',
               COALESCE((SELECT 'versions ' OPERATOR(pg_catalog.||)
                                pg_catalog.string_agg(v.version OPERATOR(pg_catalog.||) ' (' OPERATOR(pg_catalog.||) v.stage OPERATOR(pg_catalog.||) ')', ', ' ORDER BY v.version)
                           FROM mlops.model_versions v WHERE v.model_id OPERATOR(pg_catalog.=) p_model_id),
                        'no versions')
               OPERATOR(pg_catalog.||)
               COALESCE((SELECT ' and aliases ' OPERATOR(pg_catalog.||)
                                pg_catalog.string_agg(a.alias OPERATOR(pg_catalog.||) ' -> ' OPERATOR(pg_catalog.||) a.version, ', ' ORDER BY a.alias)
                           FROM mlops.model_aliases a WHERE a.model_id OPERATOR(pg_catalog.=) p_model_id),
                        ''))
$$;
REVOKE ALL ON FUNCTION mlops._versions_hint(bigint) FROM PUBLIC;

-- resolve_model turns a model reference into one model version.
CREATE FUNCTION mlops.resolve_model(ref text)
    RETURNS TABLE(model_id bigint, name text, version integer, stage text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    model_name text;
    spec text;
    kind text;
    mid bigint;
    v integer;
    st text;
BEGIN
    IF ref IS NULL OR ref OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'model reference must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''name'', ''name/3'', ''name/Staging'', ''name/latest'' or ''name@alias''.';
    END IF;
    IF pg_catalog.strpos(ref, '@') OPERATOR(pg_catalog.>) 0 THEN
        model_name := pg_catalog.split_part(ref, '@', 1);
        spec := pg_catalog.substr(ref, pg_catalog.strpos(ref, '@') OPERATOR(pg_catalog.+) 1);
        kind := 'alias';
    ELSIF pg_catalog.strpos(ref, '/') OPERATOR(pg_catalog.>) 0 THEN
        model_name := pg_catalog.split_part(ref, '/', 1);
        spec := pg_catalog.substr(ref, pg_catalog.strpos(ref, '/') OPERATOR(pg_catalog.+) 1);
        IF spec OPERATOR(pg_catalog.~) '^[0-9]{1,9}$' THEN
            kind := 'version';
        ELSIF pg_catalog.lower(spec) OPERATOR(pg_catalog.=) 'latest' THEN
            kind := 'latest';
        ELSIF pg_catalog.lower(spec) OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'staging', 'production', 'archived']) THEN
            kind := 'stage';
            spec := mlops._canonical_stage(spec);
        ELSE
            RAISE EXCEPTION 'invalid model reference "%"', ref
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('"%s" is neither a version number, "latest", nor a stage.', spec),
                      HINT = 'Use ''name'', ''name/3'', ''name/Staging'', ''name/latest'' or ''name@alias''.';
        END IF;
    ELSE
        model_name := ref;
        spec := 'Production';
        kind := 'default';
    END IF;

    SELECT m.model_id INTO mid FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) model_name;
    IF mid IS NULL THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object', HINT = mlops._models_hint();
    END IF;

    IF kind OPERATOR(pg_catalog.=) 'alias' THEN
        SELECT a.version INTO v FROM mlops.model_aliases a
         WHERE a.model_id OPERATOR(pg_catalog.=) mid AND a.alias OPERATOR(pg_catalog.=) spec;
    ELSIF kind OPERATOR(pg_catalog.=) 'version' THEN
        SELECT mv.version INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) spec::integer;
    ELSIF kind OPERATOR(pg_catalog.=) 'latest' THEN
        SELECT pg_catalog.max(mv.version) INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid;
    ELSE
        -- the newest version in that stage (Production has at most one)
        SELECT pg_catalog.max(mv.version) INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.stage OPERATOR(pg_catalog.=) spec;
    END IF;

    IF v IS NULL THEN
        RAISE EXCEPTION 'model reference "%" does not resolve to a version', ref
            USING ERRCODE = 'undefined_object',
                  DETAIL = CASE kind
                      WHEN 'alias' THEN pg_catalog.format('Model "%s" has no alias "%s".', model_name, spec)
                      WHEN 'version' THEN pg_catalog.format('Model "%s" has no version %s.', model_name, spec)
                      WHEN 'latest' THEN pg_catalog.format('Model "%s" has no versions.', model_name)
                      ELSE pg_catalog.format('Model "%s" has no version in stage %s.', model_name, spec) END,
                  HINT = mlops._versions_hint(mid);
    END IF;

    SELECT mv.stage INTO st FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) v;
    RETURN QUERY SELECT mid, model_name, v, st;
END
$$;
REVOKE ALL ON FUNCTION mlops.resolve_model(text) FROM PUBLIC;

-- _register_model_version stores a new version (stage None) of a model,
-- creating the model when needed.  Internal: training and import_model call
-- it as the extension owner; the bytes must already be validated.
CREATE FUNCTION mlops._register_model_version(name text, model_data bytea, run_id bigint, task text,
                                              algorithm text, feature_names text[], input_schema jsonb,
                                              metrics jsonb, params jsonb, tags jsonb)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    mid bigint;
    v integer;
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid model name %', COALESCE(pg_catalog.quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Model names are 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".',
                  HINT = 'The characters "/" and "@" are reserved for model references such as ''churn/3'' and ''churn@champion''.';
    END IF;
    IF model_data IS NULL OR pg_catalog.length(model_data) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'model must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task IS NOT NULL AND task OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression', 'ranking', 'survival', 'other']) THEN
        RAISE EXCEPTION 'invalid task %', pg_catalog.quote_literal(task)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Tasks are classification, regression, ranking, survival and other.';
    END IF;
    PERFORM mlops._require_object(COALESCE(metrics, '{}'), 'metrics');
    PERFORM mlops._require_object(COALESCE(params, '{}'), 'params');
    PERFORM mlops._require_object(COALESCE(tags, '{}'), 'tags');

    INSERT INTO mlops.models (name, created_by) VALUES (name, mlops.current_actor())
    ON CONFLICT DO NOTHING;
    mid := mlops._model_for_update(name);
    SELECT COALESCE(pg_catalog.max(mv.version), 0) OPERATOR(pg_catalog.+) 1 INTO v
      FROM mlops.model_versions mv WHERE mv.model_id OPERATOR(pg_catalog.=) mid;
    INSERT INTO mlops.model_versions (model_id, version, run_id, task, algorithm, feature_names, input_schema,
                                      metrics, params, tags, model_data, model_size, model_sha256, created_by)
    VALUES (mid, v, run_id, task, COALESCE(algorithm, 'xgboost'), feature_names, input_schema,
            COALESCE(metrics, '{}'), COALESCE(params, '{}'), COALESCE(tags, '{}'),
            model_data, pg_catalog.length(model_data), pg_catalog.sha256(model_data), mlops.current_actor());
    PERFORM mlops._audit_event('model.register', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) v,
                               pg_catalog.jsonb_build_object('model', name, 'version', v, 'run_id', run_id,
                                   'task', task, 'size', pg_catalog.length(model_data),
                                   'sha256', pg_catalog.encode(pg_catalog.sha256(model_data), 'hex')));
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION mlops._register_model_version(text, bytea, bigint, text, text, text[], jsonb, jsonb, jsonb, jsonb) FROM PUBLIC;

-- _version_for_update locks a model and checks that the version exists.
CREATE FUNCTION mlops._version_for_update(model_name text, p_version integer)
    RETURNS mlops.model_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    mid bigint := mlops._model_for_update(model_name);
    r mlops.model_versions;
BEGIN
    SELECT * INTO r FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) p_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no version %', model_name, COALESCE(p_version::text, 'NULL')
            USING ERRCODE = 'undefined_object', HINT = mlops._versions_hint(mid);
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION mlops._version_for_update(text, integer) FROM PUBLIC;

-- transition_stage moves a version to a stage; with archive_existing, the
-- versions already in that stage (Staging or Production) move to Archived.
CREATE FUNCTION mlops._impl_transition_stage(name text, version integer, stage text, archive_existing boolean)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    target text := mlops._canonical_stage(stage);
    r mlops.model_versions := mlops._version_for_update(name, version);
    archived integer[];
    holder integer;
BEGIN
    IF r.stage OPERATOR(pg_catalog.=) target THEN
        RETURN;
    END IF;
    IF target OPERATOR(pg_catalog.=) ANY (ARRAY['Staging', 'Production']) THEN
        IF COALESCE(archive_existing, true) THEN
            WITH moved AS (
                UPDATE mlops.model_versions mv SET stage = 'Archived', stage_changed_at = pg_catalog.now()
                 WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.stage OPERATOR(pg_catalog.=) target
                 RETURNING mv.version)
            SELECT pg_catalog.array_agg(moved.version ORDER BY moved.version) INTO archived FROM moved;
        ELSIF target OPERATOR(pg_catalog.=) 'Production' THEN
            SELECT mv.version INTO holder FROM mlops.model_versions mv
             WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.stage OPERATOR(pg_catalog.=) 'Production';
            IF holder IS NOT NULL THEN
                RAISE EXCEPTION 'model "%" already has a Production version', name
                    USING ERRCODE = 'unique_violation',
                          DETAIL = pg_catalog.format('Version %s is in Production.', holder),
                          HINT = 'Pass archive_existing => true to archive it, or move it out of Production first.';
            END IF;
        END IF;
    END IF;
    UPDATE mlops.model_versions mv SET stage = target, stage_changed_at = pg_catalog.now()
     WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.version OPERATOR(pg_catalog.=) r.version;
    PERFORM mlops._audit_event('model.transition', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) version,
                               pg_catalog.jsonb_build_object('model', name, 'version', version, 'from', r.stage,
                                   'to', target, 'archived_versions', COALESCE(archived, '{}')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_transition_stage(text, integer, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.transition_stage(name text, version integer, stage text, archive_existing boolean DEFAULT true)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.transition_stage(text, integer, text, boolean) FROM PUBLIC;

-- set_alias points an alias at a version (moving it if it exists).
CREATE FUNCTION mlops._impl_set_alias(name text, alias text, version integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.model_versions;
    previous integer;
BEGIN
    IF alias IS NULL OR alias OPERATOR(pg_catalog.!~) '^[A-Za-z_][A-Za-z0-9_-]{0,63}$'
       OR pg_catalog.lower(alias) OPERATOR(pg_catalog.=) 'latest' THEN
        RAISE EXCEPTION 'invalid alias %', COALESCE(pg_catalog.quote_literal(alias), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Aliases are 1 to 64 letters, digits, "_" or "-", starting with a letter or "_"; "latest" is reserved.',
                  HINT = 'Use names such as champion or challenger.';
    END IF;
    r := mlops._version_for_update(name, version);
    SELECT a.version INTO previous FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) r.model_id AND a.alias OPERATOR(pg_catalog.=) alias;
    INSERT INTO mlops.model_aliases AS a (model_id, alias, version) VALUES (r.model_id, alias, version)
    ON CONFLICT ON CONSTRAINT model_aliases_pkey
       DO UPDATE SET version = EXCLUDED.version, updated_at = pg_catalog.now();
    PERFORM mlops._audit_event('model.alias', 'model', name,
                               pg_catalog.jsonb_build_object('model', name, 'alias', alias, 'version', version,
                                                             'previous_version', previous));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_alias(text, text, integer) FROM PUBLIC;
CREATE FUNCTION mlops.set_alias(name text, alias text, version integer)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_alias(text, text, integer) FROM PUBLIC;

-- delete_alias removes an alias.
CREATE FUNCTION mlops._impl_delete_alias(name text, alias text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    mid bigint := mlops._model_for_update(name);
    previous integer;
BEGIN
    DELETE FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) mid AND a.alias OPERATOR(pg_catalog.=) alias
    RETURNING a.version INTO previous;
    IF previous IS NULL THEN
        RAISE EXCEPTION 'model "%" has no alias "%"', name, alias
            USING ERRCODE = 'undefined_object', HINT = mlops._versions_hint(mid);
    END IF;
    PERFORM mlops._audit_event('model.alias_delete', 'model', name,
                               pg_catalog.jsonb_build_object('model', name, 'alias', alias, 'previous_version', previous));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_delete_alias(text, text) FROM PUBLIC;
CREATE FUNCTION mlops.delete_alias(name text, alias text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.delete_alias(text, text) FROM PUBLIC;

-- delete_model_version deletes a version that is not in Production (its aliases go with it).
CREATE FUNCTION mlops._impl_delete_model_version(name text, version integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.model_versions := mlops._version_for_update(name, version);
    aliases text[];
BEGIN
    IF r.stage OPERATOR(pg_catalog.=) 'Production' THEN
        RAISE EXCEPTION 'cannot delete version % of model "%" because it is in Production', version, name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Move it to another stage with mlops.transition_stage() first.';
    END IF;
    SELECT pg_catalog.array_agg(a.alias ORDER BY a.alias) INTO aliases FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) r.model_id AND a.version OPERATOR(pg_catalog.=) r.version;
    DELETE FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.version OPERATOR(pg_catalog.=) r.version;
    PERFORM mlops._audit_event('model.delete', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) version,
                               pg_catalog.jsonb_build_object('model', name, 'version', version, 'stage', r.stage,
                                   'sha256', pg_catalog.encode(r.model_sha256, 'hex'),
                                   'deleted_aliases', COALESCE(aliases, '{}')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_delete_model_version(text, integer) FROM PUBLIC;
CREATE FUNCTION mlops.delete_model_version(name text, version integer)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.delete_model_version(text, integer) FROM PUBLIC;

-- model_info: what an inference service's /model/info returns.
CREATE FUNCTION mlops.model_info(model text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'name', r.name, 'version', v.version, 'stage', v.stage, 'task', v.task,
               'algorithm', v.algorithm, 'metrics', v.metrics, 'params', v.params, 'tags', v.tags,
               'run_id', v.run_id, 'feature_names', pg_catalog.to_jsonb(v.feature_names),
               'aliases', COALESCE((SELECT pg_catalog.jsonb_agg(a.alias ORDER BY a.alias) FROM mlops.model_aliases a
                                     WHERE a.model_id OPERATOR(pg_catalog.=) v.model_id
                                       AND a.version OPERATOR(pg_catalog.=) v.version), '[]'::jsonb),
               'model_format', v.model_format, 'model_size', v.model_size,
               'sha256', pg_catalog.encode(v.model_sha256, 'hex'),
               'created_at', v.created_at, 'created_by', v.created_by,
               'stage_changed_at', v.stage_changed_at)
      FROM mlops.resolve_model($1) r
      JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) r.model_id
                                 AND v.version OPERATOR(pg_catalog.=) r.version
$$;
REVOKE ALL ON FUNCTION mlops.model_info(text) FROM PUBLIC;

-- model_schema: what an inference service's /model/schema returns.
CREATE FUNCTION mlops.model_schema(model text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'name', r.name, 'version', v.version, 'task', v.task,
               'features', CASE
                   WHEN v.input_schema OPERATOR(pg_catalog.?) 'features' THEN
                       (SELECT pg_catalog.jsonb_agg(f OPERATOR(pg_catalog.-) 'stats' ORDER BY i)
                          FROM pg_catalog.jsonb_array_elements(v.input_schema OPERATOR(pg_catalog.->) 'features')
                               WITH ORDINALITY AS e(f, i))
                   ELSE
                       COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', n, 'type', 'float') ORDER BY i)
                                   FROM pg_catalog.unnest(v.feature_names) WITH ORDINALITY AS u(n, i)), '[]'::jsonb)
                   END,
               'label', v.input_schema OPERATOR(pg_catalog.->) 'label')
      FROM mlops.resolve_model($1) r
      JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) r.model_id
                                 AND v.version OPERATOR(pg_catalog.=) r.version
$$;
REVOKE ALL ON FUNCTION mlops.model_schema(text) FROM PUBLIC;
-- Importing and exporting XGBoost models (src/model_import.c, src/modelcheck.c).
-- import_model validates the bytes with mlops' own bounds-checked decoder and
-- XGBoost-schema validator before libxgboost ever sees them, stores canonical
-- JSON through mlops._register_model_version and returns the new version.

CREATE FUNCTION mlops.import_model(name text, model bytea, feature_names text[] DEFAULT NULL,
                                   task text DEFAULT NULL, metrics jsonb DEFAULT '{}',
                                   params jsonb DEFAULT '{}', tags jsonb DEFAULT '{}')
    RETURNS integer
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_import_model';
REVOKE ALL ON FUNCTION mlops.import_model(text, bytea, text[], text, jsonb, jsonb, jsonb) FROM PUBLIC;

-- export_model returns the stored booster (JSON) of a model reference, after
-- verifying its SHA-256; any XGBoost binding loads it.
CREATE FUNCTION mlops.export_model(model text)
    RETURNS bytea
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_export_model';
REVOKE ALL ON FUNCTION mlops.export_model(text) FROM PUBLIC;
-- Training XGBoost models in the database (src/train.c, src/dataset.c).
-- mlops.train reads its source as the calling user (SECURITY INVOKER) and
-- writes the run and the model version as the extension owner.

-- train reads source, trains a booster and registers it as a new version.
CREATE FUNCTION mlops.train(model_name text, source text, target text,
                            task text DEFAULT 'classification',
                            hyperparams jsonb DEFAULT '{}',
                            features text[] DEFAULT NULL,
                            test_size float8 DEFAULT 0.25,
                            test_sampling text DEFAULT 'random',
                            experiment text DEFAULT NULL,
                            seed integer DEFAULT 42)
    RETURNS TABLE(run_id bigint, version integer, metrics jsonb)
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    AS 'MODULE_PATHNAME', 'mlops_train';
REVOKE ALL ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, text, text, integer) FROM PUBLIC;

-- training_progress: one row per training running in the cluster.  Readers
-- need SELECT on the view and EXECUTE on its function (docs/training.md).
CREATE FUNCTION mlops._training_progress()
    RETURNS TABLE(pid integer, model text, round integer, total_rounds integer,
                  elapsed interval, last_metric text)
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_training_progress';
REVOKE ALL ON FUNCTION mlops._training_progress() FROM PUBLIC;
CREATE VIEW mlops.training_progress AS SELECT * FROM mlops._training_progress();
REVOKE ALL ON mlops.training_progress FROM PUBLIC;
-- Serving predictions (src/predict.c, src/model_cache.c,
-- src/prediction_stats.c, src/health.c).  Predictions depend on the
-- registry, so they are STABLE, never IMMUTABLE; they are PARALLEL SAFE so a
-- large scan may use parallel workers.

CREATE FUNCTION mlops.predict(model text, features float8[]) RETURNS float8
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_float8';
REVOKE ALL ON FUNCTION mlops.predict(text, float8[]) FROM PUBLIC;

CREATE FUNCTION mlops.predict(model text, features real[]) RETURNS float8
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_float4';
REVOKE ALL ON FUNCTION mlops.predict(text, real[]) FROM PUBLIC;

CREATE FUNCTION mlops.predict(model text, features jsonb) RETURNS float8
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_jsonb';
REVOKE ALL ON FUNCTION mlops.predict(text, jsonb) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features float8[]) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_float8';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, float8[]) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features jsonb) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_jsonb';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, jsonb) FROM PUBLIC;

CREATE FUNCTION mlops.predict_batch(model text, instances jsonb) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_batch';
REVOKE ALL ON FUNCTION mlops.predict_batch(text, jsonb) FROM PUBLIC;

-- predict_table reads source as the calling user.
CREATE FUNCTION mlops.predict_table(model text, source text, id_column text DEFAULT NULL)
    RETURNS TABLE(id text, prediction float8)
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_predict_table';
REVOKE ALL ON FUNCTION mlops.predict_table(text, text, text) FROM PUBLIC;

-- The per-backend model cache.
CREATE FUNCTION mlops.model_cache()
    RETURNS TABLE(model text, version integer, size_bytes bigint, hits bigint,
                  last_used bigint, loaded_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_model_cache';
REVOKE ALL ON FUNCTION mlops.model_cache() FROM PUBLIC;

CREATE FUNCTION mlops.model_cache_reset() RETURNS integer
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_model_cache_reset';
REVOKE ALL ON FUNCTION mlops.model_cache_reset() FROM PUBLIC;

-- Prediction statistics in shared memory (needs shared_preload_libraries).
-- Readers need SELECT on the view and EXECUTE on its function (docs/serving.md).
CREATE FUNCTION mlops._prediction_stats()
    RETURNS TABLE(model text, version integer, calls bigint, rows bigint, errors bigint,
                  total_ms float8, mean_ms float8, p50_ms float8, p95_ms float8, p99_ms float8)
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_prediction_stats';
REVOKE ALL ON FUNCTION mlops._prediction_stats() FROM PUBLIC;
CREATE VIEW mlops.prediction_stats AS SELECT * FROM mlops._prediction_stats();
REVOKE ALL ON mlops.prediction_stats FROM PUBLIC;

CREATE FUNCTION mlops.prediction_stats_reset() RETURNS integer
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_prediction_stats_reset';
REVOKE ALL ON FUNCTION mlops.prediction_stats_reset() FROM PUBLIC;

-- Health: can this backend serve every Production model?
CREATE FUNCTION mlops.health() RETURNS jsonb
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'mlops_health';
REVOKE ALL ON FUNCTION mlops.health() FROM PUBLIC;

CREATE FUNCTION mlops.ready() RETURNS boolean
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'mlops_ready';
REVOKE ALL ON FUNCTION mlops.ready() FROM PUBLIC;
-- Drift detection: statistics on arrays (src/drift.c over src/stats.c), drift
-- references and checks, and ADWIN change detectors (src/adwin_sql.c).
-- docs/drift.md explains every method, its formula and its defaults.

-- ---------------------------------------------------------------------------
-- Statistics on two samples.  NULL, NaN and infinite elements are dropped.
-- ---------------------------------------------------------------------------
CREATE FUNCTION mlops.psi(reference float8[], current float8[], bins integer DEFAULT 10,
                          binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_psi';
REVOKE ALL ON FUNCTION mlops.psi(float8[], float8[], integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.psi(reference text[], current text[])
    RETURNS float8
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_psi_categorical';
REVOKE ALL ON FUNCTION mlops.psi(text[], text[]) FROM PUBLIC;

CREATE FUNCTION mlops.kl_divergence(reference float8[], current float8[], bins integer DEFAULT 10,
                                    binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_kl_divergence';
REVOKE ALL ON FUNCTION mlops.kl_divergence(float8[], float8[], integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.js_distance(reference float8[], current float8[], bins integer DEFAULT 10,
                                  binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_js_distance';
REVOKE ALL ON FUNCTION mlops.js_distance(float8[], float8[], integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.wasserstein(reference float8[], current float8[])
    RETURNS float8
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_wasserstein';
REVOKE ALL ON FUNCTION mlops.wasserstein(float8[], float8[]) FROM PUBLIC;

CREATE FUNCTION mlops.ks_test(reference float8[], current float8[])
    RETURNS TABLE (statistic float8, p_value float8)
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ks_test';
REVOKE ALL ON FUNCTION mlops.ks_test(float8[], float8[]) FROM PUBLIC;

CREATE FUNCTION mlops.chi_square_test(reference text[], current text[])
    RETURNS TABLE (statistic float8, p_value float8, dof integer)
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_chi_square_test';
REVOKE ALL ON FUNCTION mlops.chi_square_test(text[], text[]) FROM PUBLIC;

CREATE FUNCTION mlops.adwin(stream float8[], delta float8 DEFAULT 0.002)
    RETURNS integer[]
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_adwin';
REVOKE ALL ON FUNCTION mlops.adwin(float8[], float8) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Drift references and checks
-- ---------------------------------------------------------------------------

-- One row per reference: where it came from.
CREATE TABLE mlops.drift_references (
    name          text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.<>) ''),
    source        text NOT NULL,
    source_kind   text NOT NULL CHECK (source_kind OPERATOR(pg_catalog.=) ANY (ARRAY['query', 'model'])),
    model_id      bigint,
    model_version integer,
    row_count     bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL,
    CHECK ((source_kind OPERATOR(pg_catalog.=) 'model') OPERATOR(pg_catalog.=) (model_id IS NOT NULL))
);
REVOKE ALL ON mlops.drift_references FROM PUBLIC;

-- One row per reference column: numeric columns keep every finite value,
-- sorted (query references) or the training histogram (model references);
-- categorical columns keep their category counts.
CREATE TABLE mlops.drift_reference_columns (
    reference_name  text NOT NULL REFERENCES mlops.drift_references (name) ON DELETE CASCADE,
    column_name     text NOT NULL,
    ordinal         integer NOT NULL,
    kind            text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['numeric', 'categorical'])),
    value_count     bigint NOT NULL,
    dropped_count   bigint NOT NULL,
    sorted_values   float8[],
    bin_edges       float8[],
    bin_counts      float8[],
    categories      text[],
    category_counts float8[],
    PRIMARY KEY (reference_name, column_name),
    CHECK (CASE kind WHEN 'numeric' THEN (sorted_values IS NOT NULL) OPERATOR(pg_catalog.<>) (bin_edges IS NOT NULL)
                     ELSE categories IS NOT NULL AND category_counts IS NOT NULL END)
);
ALTER TABLE mlops.drift_reference_columns ALTER COLUMN sorted_values SET STORAGE EXTERNAL;
REVOKE ALL ON mlops.drift_reference_columns FROM PUBLIC;

-- Every check detect_drift ran.
CREATE TABLE mlops.drift_results (
    result_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference_name text NOT NULL,
    checked_at     timestamptz NOT NULL,
    column_name    text NOT NULL,
    method         text NOT NULL CHECK (method OPERATOR(pg_catalog.=) ANY
                       (ARRAY['psi', 'kl_divergence', 'js_distance', 'wasserstein', 'ks', 'chi_square'])),
    value          float8 NOT NULL,
    p_value        float8,
    threshold      float8 NOT NULL,
    drift          boolean NOT NULL,
    checked_by     name NOT NULL
);
CREATE INDEX drift_results_reference_time_idx ON mlops.drift_results (reference_name, checked_at);
REVOKE ALL ON mlops.drift_results FROM PUBLIC;

CREATE FUNCTION mlops.set_drift_reference(name text, source text, columns text[] DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_set_drift_reference';
REVOKE ALL ON FUNCTION mlops.set_drift_reference(text, text, text[]) FROM PUBLIC;

CREATE FUNCTION mlops.set_drift_reference_from_model(name text, model text)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_set_drift_reference_from_model';
REVOKE ALL ON FUNCTION mlops.set_drift_reference_from_model(text, text) FROM PUBLIC;

CREATE FUNCTION mlops.detect_drift(name text, source text, methods text[] DEFAULT NULL,
                                   columns text[] DEFAULT NULL, thresholds jsonb DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_detect_drift';
REVOKE ALL ON FUNCTION mlops.detect_drift(text, text, text[], text[], jsonb) FROM PUBLIC;

-- drop_drift_reference deletes a reference (its past results stay).
CREATE FUNCTION mlops._impl_drop_drift_reference(name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
BEGIN
    DELETE FROM mlops.drift_references r WHERE r.name OPERATOR(pg_catalog.=) name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'drift reference "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'List references with SELECT name FROM mlops.drift_references.';
    END IF;
    PERFORM mlops._audit_event('drift.reference.drop', 'drift_reference', name, '{}');
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_drift_reference(text) FROM PUBLIC;
CREATE FUNCTION mlops.drop_drift_reference(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_drift_reference(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Streaming ADWIN detectors
-- ---------------------------------------------------------------------------
CREATE TABLE mlops.adwin_detectors (
    name              text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.<>) ''),
    delta             float8 NOT NULL CHECK (delta OPERATOR(pg_catalog.>) 0 AND delta OPERATOR(pg_catalog.<) 1),
    state             bytea NOT NULL,
    width             bigint NOT NULL DEFAULT 0,
    mean              float8 NOT NULL DEFAULT 0,
    variance          float8 NOT NULL DEFAULT 0,
    updates           bigint NOT NULL DEFAULT 0,
    detections        bigint NOT NULL DEFAULT 0,
    dropped           bigint NOT NULL DEFAULT 0,
    last_detection_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by        name NOT NULL
);
REVOKE ALL ON mlops.adwin_detectors FROM PUBLIC;

CREATE FUNCTION mlops.adwin_create(name text, delta float8 DEFAULT 0.002)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_adwin_create';
REVOKE ALL ON FUNCTION mlops.adwin_create(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.adwin_update(name text, value float8)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_adwin_update';
REVOKE ALL ON FUNCTION mlops.adwin_update(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.adwin_drop(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_adwin_drop';
REVOKE ALL ON FUNCTION mlops.adwin_drop(text) FROM PUBLIC;
-- Job scheduler: jobs, their runs and pipeline runs.  The background workers
-- (src/scheduler*.c, src/jobworker.c) read and write these tables; users
-- change them only through the functions below and see only their own rows.

CREATE TABLE mlops.jobs (
    job_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name        text NOT NULL CHECK (pg_catalog.length(job_name) OPERATOR(pg_catalog.>) 0
                                         AND pg_catalog.length(job_name) OPERATOR(pg_catalog.<=) 200),
    owner           oid NOT NULL,
    owner_name      name NOT NULL,
    schedule        text NOT NULL,
    command         text NOT NULL,
    pipeline        text CHECK (pipeline OPERATOR(pg_catalog.=) ANY (ARRAY['training_pipeline', 'data_pipeline',
                                                                           'monitoring_pipeline'])),
    parameters      jsonb,
    enabled         boolean NOT NULL DEFAULT true,
    next_run_at     timestamptz,
    last_run_at     timestamptz,
    max_runtime     interval CHECK (max_runtime OPERATOR(pg_catalog.>) '0'::interval),
    max_retries     integer NOT NULL DEFAULT 0 CHECK (max_retries OPERATOR(pg_catalog.>=) 0
                                                      AND max_retries OPERATOR(pg_catalog.<=) 100),
    retry_delay     interval NOT NULL DEFAULT '10 seconds' CHECK (retry_delay OPERATOR(pg_catalog.>) '0'::interval),
    failures        integer NOT NULL DEFAULT 0,
    run_requested   boolean NOT NULL DEFAULT false,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (owner, job_name)
);
REVOKE ALL ON mlops.jobs FROM PUBLIC;

CREATE TABLE mlops.job_runs (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       bigint NOT NULL REFERENCES mlops.jobs (job_id) ON DELETE CASCADE,
    owner        oid NOT NULL,
    attempt      integer NOT NULL DEFAULT 1,
    status       text NOT NULL CHECK (status OPERATOR(pg_catalog.=) ANY
                                      (ARRAY['scheduled', 'running', 'succeeded', 'failed', 'timed_out'])),
    due_at       timestamptz NOT NULL,
    scheduled_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at   timestamptz,
    finished_at  timestamptz,
    pid          integer,
    command      text NOT NULL,
    rows         bigint,
    result       text,
    message      text
);
CREATE INDEX job_runs_job_idx ON mlops.job_runs (job_id, run_id);
CREATE INDEX job_runs_unfinished_idx ON mlops.job_runs (run_id)
    WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['scheduled', 'running']);
CREATE INDEX job_runs_finished_idx ON mlops.job_runs (finished_at);
REVOKE ALL ON mlops.job_runs FROM PUBLIC;

CREATE TABLE mlops.pipeline_runs (
    pipeline_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline        text NOT NULL,
    owner           oid NOT NULL,
    owner_name      name NOT NULL,
    parameters      jsonb NOT NULL,
    status          text NOT NULL CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['succeeded', 'failed'])),
    steps           jsonb NOT NULL DEFAULT '[]',
    result          jsonb,
    error           text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL
);
CREATE INDEX pipeline_runs_finished_idx ON mlops.pipeline_runs (finished_at);
REVOKE ALL ON mlops.pipeline_runs FROM PUBLIC;

-- Row-level security: a role granted SELECT sees its own jobs and runs only.
-- (The extension owner, which the workers and functions write as, bypasses it.)
ALTER TABLE mlops.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlops.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlops.pipeline_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_own ON mlops.jobs FOR SELECT
    USING (owner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER));
CREATE POLICY job_runs_own ON mlops.job_runs FOR SELECT
    USING (owner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER));
CREATE POLICY pipeline_runs_own ON mlops.pipeline_runs FOR SELECT
    USING (owner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER));

-- _jobs_changed: every change of mlops.jobs invalidates the scheduler's copy.
CREATE FUNCTION mlops._jobs_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__jobs_changed';
REVOKE ALL ON FUNCTION mlops._jobs_changed() FROM PUBLIC;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._jobs_changed();

-- _next_run: when a job with this schedule is next due (validates the schedule).
CREATE FUNCTION mlops._next_run(schedule text, due timestamptz, now timestamptz)
    RETURNS timestamptz
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__next_run';
REVOKE ALL ON FUNCTION mlops._next_run(text, timestamptz, timestamptz) FROM PUBLIC;

-- _check_job_command: the command parses and can run inside a transaction.
CREATE FUNCTION mlops._check_job_command(command text) RETURNS void
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__check_job_command';
REVOKE ALL ON FUNCTION mlops._check_job_command(text) FROM PUBLIC;

-- next_runs: the next fire times of a schedule, to check it before use.
CREATE FUNCTION mlops.next_runs(schedule text, after timestamptz DEFAULT pg_catalog.now(),
                                count integer DEFAULT 5)
    RETURNS SETOF timestamptz
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops_next_runs';
REVOKE ALL ON FUNCTION mlops.next_runs(text, timestamptz, integer) FROM PUBLIC;

-- _job_owner_oid: the acting role, which must be able to log in (job workers
-- connect as it).
CREATE FUNCTION mlops._job_owner_oid() RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    SELECT oid, rolcanlogin INTO r FROM pg_catalog.pg_roles
     WHERE rolname OPERATOR(pg_catalog.=) mlops.current_actor();
    IF NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot own jobs', mlops.current_actor()
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A job runs in a session of its owner, and this role cannot log in.',
                  HINT = 'Schedule the job from a role with LOGIN, or ALTER ROLE ... LOGIN.';
    END IF;
    RETURN r.oid;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_owner_oid() FROM PUBLIC;

-- _own_job: the caller's job with this name, locked.
CREATE FUNCTION mlops._own_job(p_job_name text) RETURNS mlops.jobs
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs;
BEGIN
    SELECT * INTO j FROM mlops.jobs
     WHERE job_name OPERATOR(pg_catalog.=) p_job_name
       AND owner OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_roles
                                         WHERE rolname OPERATOR(pg_catalog.=) mlops.current_actor())
     FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job "%" does not exist', COALESCE(p_job_name, 'NULL')
            USING ERRCODE = 'undefined_object',
                  DETAIL = pg_catalog.format('Role %s has no job of that name.', mlops.current_actor()),
                  HINT = 'List your jobs with SELECT job_name FROM mlops.jobs.';
    END IF;
    RETURN j;
END
$$;
REVOKE ALL ON FUNCTION mlops._own_job(text) FROM PUBLIC;

-- _save_job creates or replaces the caller's job of that name.
CREATE FUNCTION mlops._save_job(p_job_name text, p_schedule text, p_command text,
                                p_pipeline text, p_parameters jsonb)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
    owner_oid oid := mlops._job_owner_oid();
    next timestamptz;
    replaced boolean;
BEGIN
    PERFORM mlops._require_scheduler();
    IF p_job_name IS NULL OR pg_catalog.btrim(p_job_name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'job name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_schedule IS NULL THEN
        RAISE EXCEPTION 'schedule must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Examples: ''0 2 * * *'', ''@hourly'', ''every 30 seconds''.';
    END IF;
    IF p_command IS NULL THEN
        RAISE EXCEPTION 'command must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    next := mlops._next_run(p_schedule, NULL, pg_catalog.clock_timestamp());
    PERFORM mlops._check_job_command(p_command);
    SELECT true INTO replaced FROM mlops.jobs
     WHERE owner OPERATOR(pg_catalog.=) owner_oid AND job_name OPERATOR(pg_catalog.=) p_job_name;
    INSERT INTO mlops.jobs AS j (job_name, owner, owner_name, schedule, command, pipeline, parameters,
                                 next_run_at)
    VALUES (p_job_name, owner_oid, mlops.current_actor(), p_schedule, p_command, p_pipeline,
            p_parameters, next)
    ON CONFLICT (owner, job_name) DO UPDATE
       SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, pipeline = EXCLUDED.pipeline,
           parameters = EXCLUDED.parameters, next_run_at = EXCLUDED.next_run_at, enabled = true,
           failures = 0, disabled_reason = NULL
    RETURNING job_id INTO id;
    PERFORM mlops._audit_event('job.schedule', 'job', id::text,
                               pg_catalog.jsonb_build_object('job_name', p_job_name,
                                   'schedule', p_schedule, 'command', p_command,
                                   'pipeline', p_pipeline, 'replaced', COALESCE(replaced, false)));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._save_job(text, text, text, text, jsonb) FROM PUBLIC;

-- _require_scheduler: the scheduler needs shared_preload_libraries.
CREATE FUNCTION mlops._require_scheduler() RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__require_scheduler';
REVOKE ALL ON FUNCTION mlops._require_scheduler() FROM PUBLIC;

-- schedule
CREATE FUNCTION mlops._impl_schedule(job_name text, schedule text, command text)
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT mlops._save_job($1, $2, $3, NULL, NULL) $$;
REVOKE ALL ON FUNCTION mlops._impl_schedule(text, text, text) FROM PUBLIC;
CREATE FUNCTION mlops.schedule(job_name text, schedule text, command text)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule(text, text, text) FROM PUBLIC;

-- schedule_pipeline: the command calls the pipeline with the parameters as named arguments.
-- Each pipeline's parameters are the arguments of its function; those
-- without a default (required) must be given.
CREATE FUNCTION mlops._impl_schedule_pipeline(job_name text, pipeline text, schedule text,
                                              parameters jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    allowed text[];
    required text[];
    missing text[];
    args text[] := '{}';
    k text;
    v jsonb;
BEGIN
    PERFORM mlops._require_object(parameters, 'parameters');
    IF pipeline OPERATOR(pg_catalog.=) 'training_pipeline' THEN
        allowed := ARRAY['data_source', 'target_column', 'model_name', 'model_type', 'experiment_name',
                         'task', 'hyperparams', 'min_metrics'];
        required := ARRAY['data_source', 'target_column', 'model_name'];
    ELSIF pipeline OPERATOR(pg_catalog.=) 'data_pipeline' THEN
        allowed := ARRAY['data_source', 'output_table', 'validate', 'rules'];
        required := ARRAY['data_source', 'output_table'];
    ELSIF pipeline OPERATOR(pg_catalog.=) 'monitoring_pipeline' THEN
        allowed := ARRAY['model'];
        required := ARRAY['model'];
    ELSE
        RAISE EXCEPTION 'unknown pipeline %', COALESCE(pg_catalog.quote_literal(pipeline), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The pipelines are training_pipeline, data_pipeline and monitoring_pipeline.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(parameters) e ORDER BY e.key LOOP
        IF NOT k OPERATOR(pg_catalog.=) ANY (allowed) THEN
            RAISE EXCEPTION '% has no parameter "%"', pipeline, k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = pg_catalog.format('Its parameters are %s.', pg_catalog.array_to_string(allowed, ', '));
        END IF;
        IF k OPERATOR(pg_catalog.=) ANY (ARRAY['hyperparams', 'min_metrics', 'rules']) THEN
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::jsonb', k, v::text);
        ELSIF k OPERATOR(pg_catalog.=) 'validate' THEN
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'boolean' THEN
                RAISE EXCEPTION 'parameter "validate" must be a JSON boolean'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %s', k, v::text);
        ELSE
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'string' THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON string', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L', k, v OPERATOR(pg_catalog.->>) 0);
        END IF;
    END LOOP;
    SELECT pg_catalog.array_agg(r ORDER BY o) INTO missing
      FROM pg_catalog.unnest(required) WITH ORDINALITY AS x(r, o)
     WHERE NOT parameters OPERATOR(pg_catalog.?) r;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '% needs parameter "%"', pipeline, missing[1]
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Missing: %s.', pg_catalog.array_to_string(missing, ', ')),
                  HINT = pg_catalog.format('Its required parameters are %s.', pg_catalog.array_to_string(required, ', '));
    END IF;
    RETURN mlops._save_job(job_name, schedule,
                           pg_catalog.format('SELECT mlops.%I(%s)', pipeline,
                                             pg_catalog.array_to_string(args, ', ')),
                           pipeline, parameters);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_schedule_pipeline(text, text, text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.schedule_pipeline(job_name text, pipeline text, schedule text,
                                        parameters jsonb DEFAULT '{}')
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule_pipeline(text, text, text, jsonb) FROM PUBLIC;

-- unschedule
CREATE FUNCTION mlops._impl_unschedule(job_name text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
BEGIN
    DELETE FROM mlops.jobs WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.unschedule', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name));
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_unschedule(text) FROM PUBLIC;
CREATE FUNCTION mlops.unschedule(job_name text)
    RETURNS boolean LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.unschedule(text) FROM PUBLIC;

-- alter_job: NULL leaves a setting as it is.
CREATE FUNCTION mlops._impl_alter_job(job_name text, schedule text, command text, enabled boolean,
                                      max_runtime interval, max_retries integer, retry_delay interval)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
    next timestamptz := j.next_run_at;
BEGIN
    IF schedule IS NOT NULL THEN
        next := mlops._next_run(schedule, NULL, pg_catalog.clock_timestamp());
    ELSIF enabled AND NOT j.enabled THEN
        next := mlops._next_run(j.schedule, NULL, pg_catalog.clock_timestamp());
    END IF;
    IF command IS NOT NULL THEN
        IF j.pipeline IS NOT NULL THEN
            RAISE EXCEPTION 'job "%" runs a pipeline', job_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Change its parameters with mlops.schedule_pipeline() under the same name.';
        END IF;
        PERFORM mlops._check_job_command(command);
    END IF;
    IF max_runtime IS NOT NULL AND max_runtime OPERATOR(pg_catalog.<=) '0'::interval THEN
        RAISE EXCEPTION 'max_runtime must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_retries IS NOT NULL AND (max_retries OPERATOR(pg_catalog.<) 0 OR max_retries OPERATOR(pg_catalog.>) 100) THEN
        RAISE EXCEPTION 'max_retries must be between 0 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retry_delay IS NOT NULL AND retry_delay OPERATOR(pg_catalog.<) '1 second'::interval THEN
        RAISE EXCEPTION 'retry_delay must be at least 1 second' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE mlops.jobs
       SET schedule = COALESCE($2, j.schedule),
           command = COALESCE($3, j.command),
           enabled = COALESCE($4, j.enabled),
           max_runtime = COALESCE($5, j.max_runtime),
           max_retries = COALESCE($6, j.max_retries),
           retry_delay = COALESCE($7, j.retry_delay),
           next_run_at = next,
           disabled_reason = CASE WHEN $4 THEN NULL ELSE j.disabled_reason END,
           failures = CASE WHEN $4 THEN 0 ELSE j.failures END
     WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.alter', 'job', j.job_id::text,
                               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                   'job_name', j.job_name, 'schedule', $2, 'command', $3,
                                   'enabled', $4, 'max_runtime', $5, 'max_retries', $6, 'retry_delay', $7)));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval) FROM PUBLIC;
CREATE FUNCTION mlops.alter_job(job_name text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                enabled boolean DEFAULT NULL, max_runtime interval DEFAULT NULL,
                                max_retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval) FROM PUBLIC;

-- run_job: run now, once, whether or not the job is enabled.
CREATE FUNCTION mlops._impl_run_job(job_name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
BEGIN
    PERFORM mlops._require_scheduler();
    UPDATE mlops.jobs SET run_requested = true WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.run', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_run_job(text) FROM PUBLIC;
CREATE FUNCTION mlops.run_job(job_name text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.run_job(text) FROM PUBLIC;

-- Tell the launcher, at commit, that this database now has mlops.
CREATE FUNCTION mlops._scheduler_installed() RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__scheduler_installed';
REVOKE ALL ON FUNCTION mlops._scheduler_installed() FROM PUBLIC;
SELECT mlops._scheduler_installed();
-- Pipelines: multi-step SQL functions recorded in mlops.pipeline_runs.
--
-- Each public pipeline function is LANGUAGE C (mlops_pipeline_trampoline in
-- src/pipelines.c): it calls mlops._impl_<pipeline> AS THE CALLER (the
-- implementation is SECURITY INVOKER, so the user's data is read with the
-- user's privileges and search_path), then records the returned document in
-- mlops.pipeline_runs as the extension owner.  An implementation never
-- raises: it catches the error of the failing step (which rolls that
-- pipeline's work back) and returns {"status": "failed", ...}, so the failure
-- is recorded too.  A scheduled pipeline job whose result says "failed" is a
-- failed job run.

-- training_pipeline: validate, train, evaluate, register, promote to Staging
-- when every min_metrics threshold is met.
CREATE FUNCTION mlops._impl_training_pipeline(p_data_source text, p_target_column text, p_model_name text,
                                              p_model_type text, p_experiment_name text, p_task text,
                                              p_hyperparams jsonb, p_min_metrics jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    params jsonb := pg_catalog.jsonb_build_object(
        'data_source', p_data_source, 'target_column', p_target_column, 'model_name', p_model_name,
        'model_type', p_model_type, 'experiment_name', p_experiment_name, 'task', p_task,
        'hyperparams', p_hyperparams, 'min_metrics', p_min_metrics);
    steps jsonb := '[]';
    step text;
    step_status text;
    step_result jsonb;
    t0 timestamptz;
    src text;
    n_rows bigint;
    n_labelled bigint;
    n_distinct bigint;
    v_run_id bigint;
    v_version integer;
    v_metrics jsonb;
    checks jsonb := '{}';
    passed boolean := true;
    ok boolean;
    k text;
    threshold jsonb;
    actual float8;
    lower_is_better boolean;
    msg text;
    det text;
    state text;
BEGIN
    BEGIN
        -- one step an iteration; each branch leaves its status and result,
        -- recorded below, and an error leaves step naming the failing one
        FOREACH step IN ARRAY ARRAY['validate', 'train', 'evaluate', 'register', 'promote'] LOOP
            t0 := pg_catalog.clock_timestamp();
            step_status := 'succeeded';
            IF step OPERATOR(pg_catalog.=) 'validate' THEN
                IF p_data_source IS NULL OR p_target_column IS NULL OR p_model_name IS NULL THEN
                    RAISE EXCEPTION 'data_source, target_column and model_name must not be null'
                        USING ERRCODE = 'null_value_not_allowed';
                END IF;
                IF pg_catalog.lower(COALESCE(p_model_type, '')) OPERATOR(pg_catalog.<>) 'xgboost' THEN
                    RAISE EXCEPTION 'model type "%" is not supported', p_model_type
                        USING ERRCODE = 'feature_not_supported', HINT = 'mlops trains xgboost models.';
                END IF;
                IF p_task IS NULL OR p_task OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression']) THEN
                    RAISE EXCEPTION 'task must be classification or regression'
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                IF p_hyperparams IS NULL OR pg_catalog.jsonb_typeof(p_hyperparams) OPERATOR(pg_catalog.<>) 'object' THEN
                    RAISE EXCEPTION 'hyperparams must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
                END IF;
                IF p_min_metrics IS NULL OR pg_catalog.jsonb_typeof(p_min_metrics) OPERATOR(pg_catalog.<>) 'object'
                   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(p_min_metrics) e
                               WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'number') THEN
                    RAISE EXCEPTION 'min_metrics must be a JSON object of numbers'
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'For example ''{"accuracy": 0.85}'' or ''{"rmse": 3.5}''.';
                END IF;
                IF pg_catalog.to_regprocedure('mlops.train(text,text,text,text,jsonb,text[],double precision,text,text,integer)') IS NULL THEN
                    RAISE EXCEPTION 'mlops.train is not available in this installation'
                        USING ERRCODE = 'undefined_function';
                END IF;
                IF p_data_source OPERATOR(pg_catalog.~*) '^\s*(select|with|values|table)\s' THEN
                    src := '(' OPERATOR(pg_catalog.||) p_data_source OPERATOR(pg_catalog.||) ') AS s';
                ELSE
                    src := p_data_source::regclass::text OPERATOR(pg_catalog.||) ' AS s';
                END IF;
                EXECUTE pg_catalog.format('SELECT pg_catalog.count(*), pg_catalog.count(%1$I), pg_catalog.count(DISTINCT %1$I) FROM %2$s',
                                          p_target_column, src)
                   INTO n_rows, n_labelled, n_distinct;
                IF n_rows OPERATOR(pg_catalog.=) 0 THEN
                    RAISE EXCEPTION 'data source % has no rows', p_data_source USING ERRCODE = 'no_data_found';
                END IF;
                IF n_labelled OPERATOR(pg_catalog.<) n_rows THEN
                    RAISE EXCEPTION 'target column "%" has % null values', p_target_column, n_rows OPERATOR(pg_catalog.-) n_labelled
                        USING ERRCODE = 'null_value_not_allowed',
                              HINT = 'Filter them out in the data source query.';
                END IF;
                IF p_task OPERATOR(pg_catalog.=) 'classification' AND n_distinct OPERATOR(pg_catalog.<) 2 THEN
                    RAISE EXCEPTION 'target column "%" has a single class', p_target_column
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                step_result := pg_catalog.jsonb_build_object('rows', n_rows, 'distinct_targets', n_distinct);
            ELSIF step OPERATOR(pg_catalog.=) 'train' THEN
                SELECT t.run_id, t.version, t.metrics INTO v_run_id, v_version, v_metrics
                  FROM mlops.train(p_model_name, p_data_source, p_target_column, task => p_task,
                                   hyperparams => p_hyperparams, experiment => p_experiment_name) AS t;
                step_result := pg_catalog.jsonb_build_object('run_id', v_run_id, 'version', v_version);
            ELSIF step OPERATOR(pg_catalog.=) 'evaluate' THEN
                FOR k, threshold IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_min_metrics) e ORDER BY e.key LOOP
                    IF NOT (v_metrics OPERATOR(pg_catalog.?) k) THEN
                        RAISE EXCEPTION 'training reported no metric "%"', k
                            USING ERRCODE = 'invalid_parameter_value',
                                  DETAIL = pg_catalog.format('It reported %s.', (SELECT pg_catalog.string_agg(m, ', ' ORDER BY m)
                                                                                FROM pg_catalog.jsonb_object_keys(v_metrics) m));
                    END IF;
                    actual := (v_metrics OPERATOR(pg_catalog.->>) k)::float8;
                    lower_is_better := k OPERATOR(pg_catalog.=) ANY (ARRAY['rmse', 'mae', 'mse', 'log_loss', 'logloss', 'mlogloss', 'error']);
                    ok := CASE WHEN lower_is_better THEN actual OPERATOR(pg_catalog.<=) threshold::text::float8
                               ELSE actual OPERATOR(pg_catalog.>=) threshold::text::float8 END;
                    checks := checks OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(k, pg_catalog.jsonb_build_object(
                        'value', actual, 'threshold', threshold,
                        'rule', CASE WHEN lower_is_better THEN 'at most' ELSE 'at least' END, 'passed', ok));
                    passed := passed AND ok;
                END LOOP;
                step_result := pg_catalog.jsonb_build_object('metrics', v_metrics, 'checks', checks,
                                                             'meets_min_metrics', passed);
            ELSIF step OPERATOR(pg_catalog.=) 'register' THEN
                -- training registered the version (stage None); its time is
                -- the train step's, so this step takes none
                t0 := NULL;
                step_result := pg_catalog.jsonb_build_object('model', p_model_name, 'version', v_version);
            ELSE
                -- promote
                IF passed THEN
                    PERFORM mlops.transition_stage(p_model_name, v_version, 'Staging');
                ELSE
                    step_status := 'skipped';
                END IF;
                step_result := pg_catalog.jsonb_build_object('stage', CASE WHEN passed THEN 'Staging' ELSE 'None' END);
            END IF;
            steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', step, 'status', step_status,
                'seconds', COALESCE(EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0), 0),
                'result', step_result));
        END LOOP;

        RETURN pg_catalog.jsonb_build_object(
            'status', 'succeeded', 'parameters', params, 'steps', steps,
            'result', pg_catalog.jsonb_build_object(
                'run_id', v_run_id, 'model', p_model_name, 'version', v_version, 'metrics', v_metrics,
                'meets_min_metrics', passed, 'stage', CASE WHEN passed THEN 'Staging' ELSE 'None' END));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', step, 'status', 'failed',
            'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'error', msg));
        RETURN pg_catalog.jsonb_build_object('status', 'failed', 'parameters', params, 'steps', steps,
                                             'error', msg, 'error_detail', NULLIF(det, ''), 'sqlstate', state);
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_training_pipeline(text, text, text, text, text, text, jsonb, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.training_pipeline(data_source text, target_column text, model_name text,
                                        model_type text DEFAULT 'xgboost', experiment_name text DEFAULT NULL,
                                        task text DEFAULT 'classification', hyperparams jsonb DEFAULT '{}',
                                        min_metrics jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.training_pipeline(text, text, text, text, text, text, jsonb, jsonb) FROM PUBLIC;

-- data_pipeline: profile every column, check the rules, write the clean rows
-- to output_table (created, or emptied and refilled) and report rejections.
CREATE FUNCTION mlops._impl_data_pipeline(p_data_source text, p_output_table text, p_validate boolean,
                                          p_rules jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    params jsonb := pg_catalog.jsonb_build_object('data_source', p_data_source, 'output_table', p_output_table,
                                                  'validate', p_validate, 'rules', p_rules);
    steps jsonb := '[]';
    step text;
    step_status text;
    step_result jsonb;
    t0 timestamptz;
    src text;
    cols text[];
    col_list text;
    profile_sql text;
    profile jsonb;
    conds text[] := '{}';
    windows text := '';
    rule_key text;
    rule jsonb;
    c text;
    key_cols text[];
    unique_key jsonb;
    n_unique integer := 0;
    target text;
    n_in bigint;
    n_rejected bigint;
    rejections jsonb;
    samples jsonb;
    n_written bigint;
    msg text;
    det text;
    state text;
BEGIN
    BEGIN
        -- one step an iteration, recorded like the training pipeline's steps
        FOREACH step IN ARRAY ARRAY['profile', 'validate', 'write'] LOOP
            t0 := pg_catalog.clock_timestamp();
            step_status := 'succeeded';
            IF step OPERATOR(pg_catalog.=) 'profile' THEN
                IF p_data_source IS NULL OR p_output_table IS NULL OR p_validate IS NULL THEN
                    RAISE EXCEPTION 'data_source, output_table and validate must not be null'
                        USING ERRCODE = 'null_value_not_allowed';
                END IF;
                IF p_rules IS NULL OR pg_catalog.jsonb_typeof(p_rules) OPERATOR(pg_catalog.<>) 'object' THEN
                    RAISE EXCEPTION 'rules must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'For example ''{"not_null": ["id"], "ranges": {"age": {"min": 0, "max": 120}}}''.';
                END IF;
                IF p_data_source OPERATOR(pg_catalog.~*) '^\s*(select|with|values|table)\s' THEN
                    src := p_data_source;
                ELSE
                    src := 'SELECT * FROM ' OPERATOR(pg_catalog.||) p_data_source::regclass::text;
                END IF;
                SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p), '.')
                  INTO target FROM pg_catalog.unnest(pg_catalog.parse_ident(p_output_table)) p;
                IF pg_catalog.to_regclass('pg_temp.mlops_pipeline_source') IS NOT NULL THEN
                    DROP VIEW pg_temp.mlops_pipeline_source CASCADE;
                END IF;
                EXECUTE 'CREATE TEMP VIEW mlops_pipeline_source AS ' OPERATOR(pg_catalog.||) src;
                SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum),
                       pg_catalog.string_agg(pg_catalog.format(
                           'pg_catalog.jsonb_build_object(%L, pg_catalog.jsonb_build_object(''type'', %L, ''count'', pg_catalog.count(%I), '
                           '''nulls'', pg_catalog.count(*) OPERATOR(pg_catalog.-) pg_catalog.count(%I)%s%s%s))',
                           a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attname, a.attname,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) ANY (ARRAY['N', 'S', 'D', 'B', 'E'])
                                THEN pg_catalog.format(', ''distinct'', pg_catalog.count(DISTINCT %I)', a.attname) ELSE '' END,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) ANY (ARRAY['N', 'S', 'D', 'E'])
                                THEN pg_catalog.format(', ''min'', pg_catalog.to_jsonb(pg_catalog.min(%1$I)), ''max'', pg_catalog.to_jsonb(pg_catalog.max(%1$I))', a.attname) ELSE '' END,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) 'N'
                                THEN pg_catalog.format(', ''mean'', pg_catalog.avg(%I)::float8', a.attname) ELSE '' END),
                           ' OPERATOR(pg_catalog.||) ' ORDER BY a.attnum)
                  INTO cols, profile_sql
                  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
                 WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('pg_temp.mlops_pipeline_source')
                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
                IF cols IS NULL THEN
                    RAISE EXCEPTION 'data source % has no columns', p_data_source USING ERRCODE = 'invalid_parameter_value';
                END IF;
                EXECUTE pg_catalog.format('SELECT pg_catalog.jsonb_build_object(''rows'', pg_catalog.count(*), ''columns'', %s) FROM pg_temp.mlops_pipeline_source',
                                          profile_sql)
                   INTO profile;
                step_result := profile;
            ELSIF step OPERATOR(pg_catalog.=) 'validate' THEN
                IF p_validate THEN
                    FOR rule_key, rule IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_rules) e ORDER BY e.key LOOP
                        IF rule_key OPERATOR(pg_catalog.=) 'not_null' OR rule_key OPERATOR(pg_catalog.=) 'unique' THEN
                            IF pg_catalog.jsonb_typeof(rule) OPERATOR(pg_catalog.<>) 'array' THEN
                                RAISE EXCEPTION 'rule "%" must be an array', rule_key USING ERRCODE = 'invalid_parameter_value',
                                    HINT = 'For example {"not_null": ["id", "age"]} or {"unique": ["id", ["a", "b"]]}.';
                            END IF;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'ranges' OR rule_key OPERATOR(pg_catalog.=) 'allowed_values' THEN
                            IF pg_catalog.jsonb_typeof(rule) OPERATOR(pg_catalog.<>) 'object' THEN
                                RAISE EXCEPTION 'rule "%" must be an object keyed by column', rule_key USING ERRCODE = 'invalid_parameter_value',
                                    HINT = 'For example {"ranges": {"age": {"min": 0, "max": 120}}} or {"allowed_values": {"plan": ["basic", "pro"]}}.';
                            END IF;
                        ELSE
                            RAISE EXCEPTION 'unknown rule "%"', rule_key USING ERRCODE = 'invalid_parameter_value',
                                HINT = 'The rules are not_null, ranges, allowed_values and unique.';
                        END IF;
                        -- every column a rule names must exist
                        FOR c IN SELECT x FROM (
                                SELECT pg_catalog.jsonb_array_elements_text(rule) AS x
                                 WHERE rule_key OPERATOR(pg_catalog.=) 'not_null'
                                UNION ALL
                                SELECT pg_catalog.jsonb_object_keys(rule)
                                 WHERE rule_key OPERATOR(pg_catalog.=) ANY (ARRAY['ranges', 'allowed_values'])
                                UNION ALL
                                SELECT k.x
                                  FROM pg_catalog.jsonb_array_elements(CASE WHEN rule_key OPERATOR(pg_catalog.=) 'unique' THEN rule ELSE '[]' END) u,
                                       LATERAL pg_catalog.jsonb_array_elements_text(
                                           CASE WHEN pg_catalog.jsonb_typeof(u) OPERATOR(pg_catalog.=) 'array' THEN u
                                                ELSE pg_catalog.jsonb_build_array(u) END) k(x)
                            ) names LOOP
                            IF NOT c OPERATOR(pg_catalog.=) ANY (cols) THEN
                                RAISE EXCEPTION 'rule "%" names column "%", which the data source does not have', rule_key, c
                                    USING ERRCODE = 'undefined_column',
                                          DETAIL = pg_catalog.format('Its columns are %s.', pg_catalog.array_to_string(cols, ', '));
                            END IF;
                        END LOOP;
                        IF rule_key OPERATOR(pg_catalog.=) 'not_null' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %I IS NULL THEN %L END', x, 'not_null:' OPERATOR(pg_catalog.||) x))
                              INTO conds FROM pg_catalog.jsonb_array_elements_text(rule) x;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'ranges' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %s OR %s THEN %L END',
                                       CASE WHEN r.value OPERATOR(pg_catalog.?) 'min'
                                            THEN pg_catalog.format('%I OPERATOR(pg_catalog.<) %L', r.key, r.value OPERATOR(pg_catalog.->>) 'min') ELSE 'false' END,
                                       CASE WHEN r.value OPERATOR(pg_catalog.?) 'max'
                                            THEN pg_catalog.format('%I OPERATOR(pg_catalog.>) %L', r.key, r.value OPERATOR(pg_catalog.->>) 'max') ELSE 'false' END,
                                       'range:' OPERATOR(pg_catalog.||) r.key))
                              INTO conds FROM pg_catalog.jsonb_each(rule) r;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'allowed_values' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %I::text OPERATOR(pg_catalog.<>) ALL (%L::text[]) THEN %L END',
                                       r.key, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(r.value)),
                                       'allowed_values:' OPERATOR(pg_catalog.||) r.key))
                              INTO conds FROM pg_catalog.jsonb_each(rule) r;
                        ELSE
                            FOR unique_key IN SELECT u FROM pg_catalog.jsonb_array_elements(rule) u LOOP
                                IF pg_catalog.jsonb_typeof(unique_key) OPERATOR(pg_catalog.=) 'array' THEN
                                    key_cols := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(unique_key));
                                ELSE
                                    key_cols := ARRAY[unique_key OPERATOR(pg_catalog.#>>) '{}'];
                                END IF;
                                n_unique := n_unique OPERATOR(pg_catalog.+) 1;
                                windows := windows OPERATOR(pg_catalog.||) pg_catalog.format(
                                    ', pg_catalog.count(*) OVER (PARTITION BY %s) AS _mlops_u%s',
                                    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') FROM pg_catalog.unnest(key_cols) x),
                                    n_unique);
                                conds := conds OPERATOR(pg_catalog.||) pg_catalog.format(
                                    'CASE WHEN _mlops_u%s OPERATOR(pg_catalog.>) 1 AND %s THEN %L END', n_unique,
                                    (SELECT pg_catalog.string_agg(pg_catalog.format('%I IS NOT NULL', x), ' AND ') FROM pg_catalog.unnest(key_cols) x),
                                    'unique:' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(key_cols, ','));
                            END LOOP;
                        END IF;
                    END LOOP;
                END IF;
                SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') INTO col_list FROM pg_catalog.unnest(cols) x;
                EXECUTE pg_catalog.format(
                    'CREATE TEMP VIEW mlops_pipeline_checked AS SELECT %s, pg_catalog.array_remove(ARRAY[%s]::text[], NULL) AS _mlops_reasons '
                    'FROM (SELECT s.*%s FROM pg_temp.mlops_pipeline_source s) s',
                    col_list, pg_catalog.array_to_string(conds, ', '), windows);
                EXECUTE 'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.>) 0) '
                        'FROM pg_temp.mlops_pipeline_checked'
                   INTO n_in, n_rejected;
                EXECUTE 'SELECT COALESCE(pg_catalog.jsonb_object_agg(r, n), ''{}'') FROM (SELECT r, pg_catalog.count(*) AS n '
                        'FROM pg_temp.mlops_pipeline_checked, pg_catalog.unnest(_mlops_reasons) r GROUP BY r) x'
                   INTO rejections;
                EXECUTE 'SELECT COALESCE(pg_catalog.jsonb_agg(x), ''[]'') FROM (SELECT pg_catalog.to_jsonb(c) OPERATOR(pg_catalog.-) ''_mlops_reasons'' AS "row", '
                        'c._mlops_reasons AS reasons FROM pg_temp.mlops_pipeline_checked c '
                        'WHERE pg_catalog.cardinality(c._mlops_reasons) OPERATOR(pg_catalog.>) 0 LIMIT 5) x'
                   INTO samples;
                IF NOT p_validate THEN
                    step_status := 'skipped';
                END IF;
                step_result := pg_catalog.jsonb_build_object('rows_checked', n_in, 'rows_rejected', n_rejected,
                                                             'rejections', rejections, 'rejected_samples', samples);
            ELSE
                -- write
                IF pg_catalog.to_regclass(target) IS NULL THEN
                    EXECUTE pg_catalog.format('CREATE TABLE %s AS SELECT %s FROM pg_temp.mlops_pipeline_checked '
                                              'WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.=) 0',
                                              target, col_list);
                ELSE
                    EXECUTE pg_catalog.format('TRUNCATE %s', target);
                    EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM pg_temp.mlops_pipeline_checked '
                                              'WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.=) 0',
                                              target, col_list, col_list);
                END IF;
                GET DIAGNOSTICS n_written = ROW_COUNT;
                DROP VIEW pg_temp.mlops_pipeline_checked;
                DROP VIEW pg_temp.mlops_pipeline_source;
                step_result := pg_catalog.jsonb_build_object('output_table', target, 'rows_written', n_written);
            END IF;
            steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', step, 'status', step_status,
                'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                'result', step_result));
        END LOOP;

        RETURN pg_catalog.jsonb_build_object(
            'status', 'succeeded', 'parameters', params, 'steps', steps,
            'result', pg_catalog.jsonb_build_object(
                'rows_in', n_in, 'rows_written', n_written, 'rows_rejected', n_rejected,
                'rejections', rejections, 'rejected_samples', samples, 'output_table', target,
                'profile', profile));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', step, 'status', 'failed',
            'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'error', msg));
        RETURN pg_catalog.jsonb_build_object('status', 'failed', 'parameters', params, 'steps', steps,
                                             'error', msg, 'error_detail', NULLIF(det, ''), 'sqlstate', state);
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_data_pipeline(text, text, boolean, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.data_pipeline(data_source text, output_table text, validate boolean DEFAULT true,
                                    rules jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.data_pipeline(text, text, boolean, jsonb) FROM PUBLIC;
-- Monitoring: performance monitors over recorded predictions and their
-- labels, alert rules in a safe expression language (src/expr.c), alerts
-- sent on the NOTIFY channel mlops_alerts, the dashboard view and the
-- Prometheus export.  docs/monitoring.md describes every object here.
--
-- Other capabilities feed in where they are installed, read through guarded
-- look-ups (to_regclass / to_regprocedure): mlops.prediction_stats
-- (serving), mlops.drift_results and mlops.detect_drift (drift),
-- mlops.job_runs / mlops.jobs (scheduler).  monitoring_pipeline is one of
-- the scheduler's pipelines: its public function is the pipeline trampoline
-- (src/pipelines.c), which records each run in mlops.pipeline_runs
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
    created_by       name NOT NULL
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
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
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

-- Fired alerts.  History outlives the rule, so rule_id is not a foreign key.
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
    resolved_by     name
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

-- _alert_condition_metrics parses a condition and returns the metric names
-- it reads, or raises the syntax or type error with its position.
CREATE FUNCTION mlops._alert_condition_metrics(condition text)
    RETURNS text[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_alert_condition_metrics';
REVOKE ALL ON FUNCTION mlops._alert_condition_metrics(text) FROM PUBLIC;

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
        RAISE EXCEPTION 'model % has no monitor', COALESCE(pg_catalog.quote_literal(p_model), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_monitor(model, problem_type, baseline_metrics).';
    END IF;
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_for(text, boolean) FROM PUBLIC;

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
    new_id bigint;
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
    RETURNING monitors.monitor_id INTO new_id;
    PERFORM mlops._audit_event('monitor.create', 'monitor', model,
        pg_catalog.jsonb_build_object('monitor_id', new_id, 'problem_type', problem_type,
                                      'baseline_metrics', baseline_metrics,
                                      'window_size', window_size, 'tolerance', tolerance));
    RETURN new_id;
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
    m mlops.monitors := mlops._monitor_for(model, true);
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
-- that monitoring_pipeline checks; NULL reference clears both.
CREATE FUNCTION mlops._impl_set_monitor_drift(model text, reference text, source text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_for(model, true);
BEGIN
    IF reference IS NOT NULL AND (source IS NULL OR pg_catalog.btrim(source) OPERATOR(pg_catalog.=) '') THEN
        RAISE EXCEPTION 'a drift reference needs a source of current data'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the table, view or query whose rows mlops.detect_drift() compares with the reference.';
    END IF;
    UPDATE mlops.monitors SET drift_reference = reference,
                              drift_source = CASE WHEN reference IS NULL THEN NULL ELSE source END
     WHERE monitors.monitor_id OPERATOR(pg_catalog.=) m.monitor_id;
    PERFORM mlops._audit_event('monitor.set_drift', 'monitor', model,
                               pg_catalog.jsonb_build_object('reference', reference, 'source', source));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_monitor_drift(text, text, text) FROM PUBLIC;
CREATE FUNCTION mlops.set_monitor_drift(model text, reference text, source text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_monitor_drift(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops._impl_record_prediction(model text, prediction float8, actual float8,
                                              prediction_id text, recorded_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_for(model);
BEGIN
    PERFORM mlops._check_observation(m.problem_type, prediction, actual);
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
    m mlops.monitors := mlops._monitor_for(model);
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
    UPDATE mlops.monitor_predictions mp SET actual = actual, labelled_at = pg_catalog.now()
     WHERE mp.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
       AND mp.prediction_id OPERATOR(pg_catalog.=) prediction_id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_record_actual(text, text, float8) FROM PUBLIC;
CREATE FUNCTION mlops.record_actual(model text, prediction_id text, actual float8)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.record_actual(text, text, float8) FROM PUBLIC;

-- model_metrics reads the labelled window in one pass, in C (src/monitoring.c).
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
    m mlops.monitors := mlops._monitor_for(model);
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
        RAISE EXCEPTION 'invalid rule id %', COALESCE(pg_catalog.quote_literal(rule_id), 'NULL')
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
        RAISE EXCEPTION 'invalid severity %', COALESCE(pg_catalog.quote_literal(severity), 'NULL')
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
    INSERT INTO mlops.alert_rules (rule_id, name, condition, metrics, severity, cooldown, labels, created_by)
    VALUES (rule_id, name, condition, names, severity, cooldown, labels, mlops.current_actor());
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

-- _alert_rule_for_update locks a rule or raises.
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
        RAISE EXCEPTION 'alert rule % does not exist', COALESCE(pg_catalog.quote_literal(p_rule_id), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'List the rules with SELECT rule_id, name FROM mlops.alert_rules.';
    END IF;
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

-- check_alerts evaluates every enabled rule in C (src/alerts.c).
CREATE FUNCTION mlops.check_alerts(metrics jsonb, source text DEFAULT NULL)
    RETURNS SETOF mlops.alerts
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_check_alerts';
REVOKE ALL ON FUNCTION mlops.check_alerts(jsonb, text) FROM PUBLIC;

-- _alert_for_update locks an alert or raises.
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
        RAISE EXCEPTION 'model % is neither registered nor monitored', COALESCE(pg_catalog.quote_literal(model), 'NULL')
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
-- with mlops_pipeline_trampoline (src/pipelines.c) as its body, which calls
-- mlops._impl_monitoring_pipeline as the caller (detect_drift reads the
-- caller's data) and records the returned document in mlops.pipeline_runs
-- and the audit log as the extension owner.  The implementation raises only
-- for a NULL model; otherwise it never raises and returns {"status":
-- "succeeded"|"failed", "parameters", "steps": [{"step", "status",
-- "seconds", "result"|"error"|"reason"}], "result", "error"}.  A step that
-- fails is rolled back and recorded as failed, and the next steps still
-- run.  Like the scheduler's pipelines it keeps the caller's search_path,
-- so a drift source names tables as the caller would; everything here is
-- qualified.
-- _monitor_pipeline_settings: whether a model is monitored and the drift
-- reference and source its pipeline checks (read as the owner).
CREATE FUNCTION mlops._monitor_pipeline_settings(p_model text)
    RETURNS TABLE (monitored boolean, drift_reference text, drift_source text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT m.monitor_id IS NOT NULL, m.drift_reference, m.drift_source
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
            WHEN step OPERATOR(pg_catalog.=) 'drift'
                 AND pg_catalog.to_regprocedure('mlops.detect_drift(text,text,text[],text[],jsonb)') IS NULL
                THEN 'mlops.detect_drift is not installed'
            WHEN step OPERATOR(pg_catalog.=) 'degradation' AND NOT m.monitored
                THEN 'the model has no monitor (mlops.create_monitor)'
        END;
        IF reason IS NOT NULL THEN
            entry := pg_catalog.jsonb_build_object('step', step, 'status', 'skipped', 'reason', reason);
        ELSE
            BEGIN
                IF step OPERATOR(pg_catalog.=) 'drift' THEN
                    EXECUTE 'SELECT mlops.detect_drift($1, $2)' INTO drift USING m.drift_reference, m.drift_source;
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

    -- scheduler
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_job_runs_total{job=%s,status=%s} %s\n',
                                                   mlops._prom_label(j.job), mlops._prom_label(j.status), j.runs),
                                 '' ORDER BY j.job, j.status)
      INTO lines FROM mlops._job_run_counts() j;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_job_runs_total', 'counter',
        'Scheduled job runs, per job and outcome.', lines);
    RETURN out;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_prometheus_metrics() FROM PUBLIC;
CREATE FUNCTION mlops.prometheus_metrics()
    RETURNS text LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.prometheus_metrics() FROM PUBLIC;
-- pg_dump: every mlops table holds user data (runs, models, jobs, alerts …),
-- so each one, and each sequence behind an identity or serial column, is
-- marked as an extension configuration object; pg_dump then dumps their
-- rows and sequence positions, and a restore gives back a working registry.
-- This piece runs last so that it covers every table the others created.
DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S'])
         ORDER BY c.relkind, c.relname
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(rel, '');
    END LOOP;
END
$$;
