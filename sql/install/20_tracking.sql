-- Experiment tracking: experiments, runs, parameters, metrics and tags,
-- as MLflow's tracking server keeps them, in tables.
--
-- Ownership (docs/security.md#ownership): experiments and runs have an
-- owner, the role that created them.  Only members of a run's owner change
-- it (log_params, log_metrics, set_tags, end_run).  Anyone allowed to call
-- start_run may start a run in any experiment; the run is theirs, and the
-- experiment itself stays its owner's.
--
-- Names that an index sees are bounded before it does: experiment and run
-- names at most 256 characters, metric keys at most 250.

CREATE TABLE mlops.experiments (
    experiment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name OPERATOR(pg_catalog.<>) ''),
    description   text,
    tags          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL,
    owner         regrole NOT NULL
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
    CHECK ((status OPERATOR(pg_catalog.=) 'running') OPERATOR(pg_catalog.=) (ended_at IS NULL)),
    owner         regrole NOT NULL
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

-- _run_for_update locks a run to change it: it checks that the run exists,
-- that the actor may change it (a member of its owner) and, when
-- must_be_running, that it is running.
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
    PERFORM mlops._require_owner('run', r.run_id::pg_catalog.text, r.owner);
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

-- _check_experiment_name refuses an empty or over-long experiment name.
CREATE FUNCTION mlops._check_experiment_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NULL OR pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'experiment name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.length(name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'experiment name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Experiment names are at most 256 characters; this one has %s.',
                                             pg_catalog.length(name));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_experiment_name(text) FROM PUBLIC;

-- _check_metric_keys refuses empty and over-long metric keys.
CREATE FUNCTION mlops._check_metric_keys(keys text[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    too_long text[];
BEGIN
    IF '' OPERATOR(pg_catalog.=) ANY (keys) THEN
        RAISE EXCEPTION 'metric keys must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.array_agg(pg_catalog.format('%s characters: %s', pg_catalog.length(k), mlops._clip(k)))
      INTO too_long
      FROM pg_catalog.unnest(keys) k WHERE pg_catalog.length(k) OPERATOR(pg_catalog.>) 250;
    IF too_long IS NOT NULL THEN
        RAISE EXCEPTION 'metric keys are at most 250 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Too long: %s.', mlops._list(too_long));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_metric_keys(text[]) FROM PUBLIC;

-- create_experiment
CREATE FUNCTION mlops._impl_create_experiment(name text, description text, tags jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM mlops._check_experiment_name(name);
    PERFORM mlops._require_object(tags, 'tags');
    INSERT INTO mlops.experiments (name, description, tags, created_by, owner)
    VALUES (name, description, tags, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
    ON CONFLICT DO NOTHING
    RETURNING experiment_id INTO id;
    IF id IS NULL THEN
        RAISE EXCEPTION 'experiment "%" already exists', mlops._clip(name)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Use another name, or start runs in it with mlops.start_run().';
    END IF;
    PERFORM mlops._audit_event('experiment.create', 'experiment', name,
                               pg_catalog.jsonb_build_object('experiment_id', id, 'name', name, 'tags', tags));
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
    PERFORM mlops._check_experiment_name(experiment);
    IF pg_catalog.length(run_name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'run name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Run names are at most 256 characters; this one has %s.',
                                             pg_catalog.length(run_name));
    END IF;
    PERFORM mlops._require_object(tags, 'tags');
    -- a run may be started in any experiment; it belongs to the role that starts it
    SELECT e.experiment_id INTO exp_id FROM mlops.experiments e WHERE e.name OPERATOR(pg_catalog.=) experiment;
    IF exp_id IS NULL THEN
        INSERT INTO mlops.experiments (name, created_by, owner)
        VALUES (experiment, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
        ON CONFLICT DO NOTHING RETURNING experiment_id INTO exp_id;
        IF exp_id IS NULL THEN      -- created concurrently
            SELECT e.experiment_id INTO STRICT exp_id FROM mlops.experiments e
             WHERE e.name OPERATOR(pg_catalog.=) experiment;
        ELSE
            PERFORM mlops._audit_event('experiment.create', 'experiment', experiment,
                                       pg_catalog.jsonb_build_object('experiment_id', exp_id, 'name', experiment,
                                                                     'tags', '{}'::jsonb));
        END IF;
    END IF;
    INSERT INTO mlops.runs (experiment_id, run_name, tags, created_by, owner)
    VALUES (exp_id, COALESCE(run_name, ''), tags, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
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
    conflicts text[];
BEGIN
    PERFORM mlops._require_object(params, 'params');
    r := mlops._run_for_update(run_id, true);
    SELECT pg_catalog.array_agg(pg_catalog.format('%s: logged %s, now %s', mlops._clip(n.key),
                                                  mlops._clip(o.value::pg_catalog.text),
                                                  mlops._clip(n.value::pg_catalog.text)) ORDER BY n.key)
      INTO conflicts
      FROM pg_catalog.jsonb_each(params) n
      JOIN pg_catalog.jsonb_each(r.params) o ON o.key OPERATOR(pg_catalog.=) n.key
     WHERE o.value OPERATOR(pg_catalog.<>) n.value;
    IF conflicts IS NOT NULL THEN
        RAISE EXCEPTION 'parameters of run % cannot be changed', run_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = mlops._list(conflicts) OPERATOR(pg_catalog.||) '.',
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
    bad text[];
    ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    PERFORM mlops._require_object(metrics, 'metrics');
    IF step IS NULL THEN
        RAISE EXCEPTION 'step must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := mlops._run_for_update(run_id, true);
    PERFORM mlops._check_metric_keys(ARRAY(SELECT pg_catalog.jsonb_object_keys(metrics)));
    SELECT pg_catalog.array_agg(pg_catalog.format('%s = %s', m.key, mlops._clip(m.value::pg_catalog.text)) ORDER BY m.key)
      INTO bad
      FROM pg_catalog.jsonb_each(metrics) m
     WHERE mlops._metric_value(m.value) IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'metric values must be numbers'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Not numeric: %s.', mlops._list(bad)),
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
    PERFORM mlops._check_metric_keys(keys);
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
        RAISE EXCEPTION 'invalid run status %', COALESCE(mlops._clip(pg_catalog.quote_literal(status)), 'NULL')
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
        RAISE EXCEPTION 'experiment "%" does not exist', mlops._clip(experiment)
            USING ERRCODE = 'undefined_object',
                  HINT = COALESCE('Existing experiments: ' OPERATOR(pg_catalog.||)
                                  NULLIF(mlops._list(ARRAY(SELECT e.name FROM mlops.experiments e ORDER BY e.name)), '')
                                  OPERATOR(pg_catalog.||) '.',
                                  'No experiment exists yet; create one with mlops.create_experiment().');
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
