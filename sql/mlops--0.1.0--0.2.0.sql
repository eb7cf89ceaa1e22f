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


-- ==== monitoring and alerts ====


-- ==== scheduler and pipelines ====
-- jobs are stamped with the database they belong to; existing jobs get this one's stamp
CREATE FUNCTION mlops._database_oid() RETURNS oid
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__database_oid';
REVOKE ALL ON FUNCTION mlops._database_oid() FROM PUBLIC;
CREATE FUNCTION mlops._system_identifier() RETURNS bigint
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__system_identifier';
REVOKE ALL ON FUNCTION mlops._system_identifier() FROM PUBLIC;
ALTER TABLE mlops.jobs
    ADD COLUMN paused_reason text,
    ADD COLUMN home_database_oid oid NOT NULL DEFAULT mlops._database_oid(),
    ADD COLUMN home_system_identifier bigint NOT NULL DEFAULT mlops._system_identifier();
-- commands are parse-analysed as their owner unless validate => false
DROP FUNCTION mlops._check_job_command(text);
CREATE FUNCTION mlops._check_job_command(command text, job_name text, owner oid, validate boolean)
    RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__check_job_command_as_owner';
REVOKE ALL ON FUNCTION mlops._check_job_command(text, text, oid, boolean) FROM PUBLIC;
DROP FUNCTION mlops._save_job(text, text, text, text, jsonb);
CREATE FUNCTION mlops._save_job(p_job_name text, p_schedule text, p_command text,
                                p_pipeline text, p_parameters jsonb, p_validate boolean)
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
    PERFORM mlops._check_job_command(p_command, p_job_name, owner_oid, p_validate);
    SELECT true INTO replaced FROM mlops.jobs
     WHERE owner OPERATOR(pg_catalog.=) owner_oid AND job_name OPERATOR(pg_catalog.=) p_job_name;
    INSERT INTO mlops.jobs AS j (job_name, owner, owner_name, schedule, command, pipeline, parameters,
                                 next_run_at)
    VALUES (p_job_name, owner_oid, mlops.current_actor(), p_schedule, p_command, p_pipeline,
            p_parameters, next)
    ON CONFLICT (owner, job_name) DO UPDATE
       SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, pipeline = EXCLUDED.pipeline,
           parameters = EXCLUDED.parameters, next_run_at = EXCLUDED.next_run_at, enabled = true,
           failures = 0, disabled_reason = NULL, paused_reason = NULL,
           home_database_oid = EXCLUDED.home_database_oid,
           home_system_identifier = EXCLUDED.home_system_identifier
    RETURNING job_id INTO id;
    PERFORM mlops._audit_event('job.schedule', 'job', id::text,
                               pg_catalog.jsonb_build_object('job_name', p_job_name,
                                   'schedule', p_schedule, 'command', p_command,
                                   'pipeline', p_pipeline, 'replaced', COALESCE(replaced, false),
                                   'validate', p_validate));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._save_job(text, text, text, text, jsonb, boolean) FROM PUBLIC;
DROP FUNCTION mlops.schedule(text, text, text);
DROP FUNCTION mlops._impl_schedule(text, text, text);
CREATE FUNCTION mlops._impl_schedule(job_name text, schedule text, command text, validate boolean)
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT mlops._save_job($1, $2, $3, NULL, NULL, $4) $$;
REVOKE ALL ON FUNCTION mlops._impl_schedule(text, text, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.schedule(job_name text, schedule text, command text, validate boolean DEFAULT true)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule(text, text, text, boolean) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_schedule_pipeline(job_name text, pipeline text, schedule text,
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
                           pipeline, parameters, true);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_schedule_pipeline(text, text, text, jsonb) FROM PUBLIC;
DROP FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval);
DROP FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval);
CREATE FUNCTION mlops._impl_alter_job(job_name text, schedule text, command text, enabled boolean,
                                      max_runtime interval, max_retries integer, retry_delay interval,
                                      validate boolean)
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
        PERFORM mlops._check_job_command(command, j.job_name, j.owner, validate);
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
           paused_reason = CASE WHEN $4 THEN NULL ELSE j.paused_reason END,
           home_database_oid = CASE WHEN $4 THEN mlops._database_oid() ELSE j.home_database_oid END,
           home_system_identifier = CASE WHEN $4 THEN mlops._system_identifier()
                                         ELSE j.home_system_identifier END,
           failures = CASE WHEN $4 THEN 0 ELSE j.failures END
     WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.alter', 'job', j.job_id::text,
                               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                   'job_name', j.job_name, 'schedule', $2, 'command', $3,
                                   'enabled', $4, 'max_runtime', $5, 'max_retries', $6, 'retry_delay', $7,
                                   'validate', CASE WHEN $3 IS NOT NULL THEN $8 END,
                                   'resumed', CASE WHEN $4 AND j.paused_reason IS NOT NULL THEN true END)));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.alter_job(job_name text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                enabled boolean DEFAULT NULL, max_runtime interval DEFAULT NULL,
                                max_retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL,
                                validate boolean DEFAULT true)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_run_job(job_name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
BEGIN
    PERFORM mlops._require_scheduler();
    IF j.paused_reason IS NOT NULL
       OR j.home_database_oid OPERATOR(pg_catalog.<>) mlops._database_oid()
       OR j.home_system_identifier OPERATOR(pg_catalog.<>) mlops._system_identifier() THEN
        RAISE EXCEPTION 'job "%" is paused', j.job_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was created in another database; this database is a copy of that one.',
                  HINT = pg_catalog.format('Resume it here with mlops.alter_job(%L, enabled => true).', j.job_name);
    END IF;
    UPDATE mlops.jobs SET run_requested = true WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.run', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_run_job(text) FROM PUBLIC;

-- ==== audit and trust model ====


-- ==== end ====
