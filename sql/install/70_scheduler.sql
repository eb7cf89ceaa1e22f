-- Job scheduler: jobs, their runs and pipeline runs.  The background workers
-- (src/sched/scheduler*.c, src/sched/jobworker.c) read and write these
-- tables; users change them only through the functions below and see the
-- rows of the roles they are members of.
--
-- Jobs are owned objects (docs/security.md#ownership, kind 'job' keyed by
-- job_id): changing, running or unscheduling one requires membership in its
-- owner or in the extension owner (mlops._require_owner); changing its
-- command requires membership in its owner, since the command runs as the
-- owner.  A job's runs stay when it is unscheduled (job_runs.job_id becomes
-- NULL, job_runs.job_name keeps the name).

-- _database_oid and _system_identifier stamp each job with the database it
-- belongs to; the scheduler pauses jobs stamped with another database
-- (copies made by pg_dump or CREATE DATABASE ... TEMPLATE).
CREATE FUNCTION mlops._database_oid() RETURNS oid
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__database_oid';
REVOKE ALL ON FUNCTION mlops._database_oid() FROM PUBLIC;
CREATE FUNCTION mlops._system_identifier() RETURNS bigint
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__system_identifier';
REVOKE ALL ON FUNCTION mlops._system_identifier() FROM PUBLIC;

CREATE TABLE mlops.jobs (
    job_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name        text NOT NULL CHECK (pg_catalog.length(job_name) OPERATOR(pg_catalog.>) 0
                                         AND pg_catalog.length(job_name) OPERATOR(pg_catalog.<=) 200),
    owner           oid NOT NULL,
    owner_name      name NOT NULL,
    schedule        text NOT NULL,
    command         text NOT NULL,
    pipeline        text CHECK (pipeline OPERATOR(pg_catalog.=) ANY (ARRAY['training_pipeline', 'data_pipeline',
                                                                           'monitoring_pipeline',
                                                                           'deployment_pipeline'])),
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
    paused_reason   text,
    home_database_oid      oid NOT NULL DEFAULT mlops._database_oid(),
    home_system_identifier bigint NOT NULL DEFAULT mlops._system_identifier(),
    UNIQUE (owner, job_name)
);
REVOKE ALL ON mlops.jobs FROM PUBLIC;

CREATE TABLE mlops.job_runs (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       bigint REFERENCES mlops.jobs (job_id) ON DELETE SET NULL,
    owner        oid NOT NULL,
    attempt      integer NOT NULL DEFAULT 1,
    status       text NOT NULL CHECK (status OPERATOR(pg_catalog.=) ANY
                                      (ARRAY['scheduled', 'running', 'succeeded', 'failed', 'timed_out',
                                             'cancelled'])),
    due_at       timestamptz NOT NULL,
    scheduled_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at   timestamptz,
    finished_at  timestamptz,
    pid          integer,
    command      text NOT NULL,
    rows         bigint,
    result       text,
    message      text,
    job_name     text NOT NULL
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

-- Row-level security: a role granted SELECT sees the jobs and runs of the
-- roles it is a member of (its own, and its groups').  (The extension owner,
-- which the workers and functions write as, bypasses it.)
ALTER TABLE mlops.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlops.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlops.pipeline_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_own ON mlops.jobs FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY job_runs_own ON mlops.job_runs FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY pipeline_runs_own ON mlops.pipeline_runs FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));

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

-- _check_job_command: the command parses, can run inside a transaction and,
-- with validate, parse-analyses as the role that owns the job.
CREATE FUNCTION mlops._check_job_command(command text, job_name text, owner oid, validate boolean)
    RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__check_job_command_as_owner';
REVOKE ALL ON FUNCTION mlops._check_job_command(text, text, oid, boolean) FROM PUBLIC;

-- next_runs: the next fire times of a schedule, to check it before use.
CREATE FUNCTION mlops.next_runs(schedule text, after timestamptz DEFAULT pg_catalog.now(),
                                count integer DEFAULT 5)
    RETURNS SETOF timestamptz
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops_next_runs';
REVOKE ALL ON FUNCTION mlops.next_runs(text, timestamptz, integer) FROM PUBLIC;

-- _check_job_owner: a role that may own jobs (job workers connect as it, so
-- it must be able to log in); returns its name.
CREATE FUNCTION mlops._check_job_owner(role oid) RETURNS name
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    SELECT a.rolname, a.rolcanlogin INTO r FROM pg_catalog.pg_roles a WHERE a.oid OPERATOR(pg_catalog.=) role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role with OID % does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot own jobs', r.rolname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A job runs in a session of its owner, and this role cannot log in.',
                  HINT = 'Schedule the job from a role with LOGIN, or ALTER ROLE ... LOGIN.';
    END IF;
    RETURN r.rolname;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_job_owner(oid) FROM PUBLIC;

-- _job_owner_oid: the acting role, which must be able to own jobs.
CREATE FUNCTION mlops._job_owner_oid() RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    actor oid := (SELECT r.oid FROM pg_catalog.pg_roles r
                   WHERE r.rolname OPERATOR(pg_catalog.=) mlops.current_actor());
BEGIN
    PERFORM mlops._check_job_owner(actor);
    RETURN actor;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_owner_oid() FROM PUBLIC;

-- _job_owner_changed keeps owner_name in step with owner (mlops.set_owner
-- changes owner) and refuses an owner that cannot own jobs or already has a
-- job of that name.
CREATE FUNCTION mlops._job_owner_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    NEW.owner_name := mlops._check_job_owner(NEW.owner);
    IF EXISTS (SELECT 1 FROM mlops.jobs x
                WHERE x.owner OPERATOR(pg_catalog.=) NEW.owner
                  AND x.job_name OPERATOR(pg_catalog.=) NEW.job_name
                  AND x.job_id OPERATOR(pg_catalog.<>) NEW.job_id) THEN
        RAISE EXCEPTION 'role "%" already has a job named "%"', NEW.owner_name, NEW.job_name
            USING ERRCODE = 'unique_violation',
                  DETAIL = 'Job names are unique per owner.',
                  HINT = 'Unschedule one of the two jobs first.';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_owner_changed() FROM PUBLIC;
CREATE TRIGGER jobs_owner_changed BEFORE UPDATE OF owner ON mlops.jobs
    FOR EACH ROW WHEN (OLD.owner OPERATOR(pg_catalog.<>) NEW.owner)
    EXECUTE FUNCTION mlops._job_owner_changed();

-- _may_see_job: whether the actor may see a job of this owner (and its runs)
-- in mlops.prometheus_metrics and by name in alter_job/run_job/unschedule:
-- a member of the owner or of the extension owner (mlops._may_change), or
-- of a role granted the auditor or admin capability.
CREATE FUNCTION mlops._may_see_job(owner oid) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN mlops._may_change(owner::regrole)
        OR EXISTS (SELECT 1 FROM mlops.capability_grants g
                    WHERE g.capability OPERATOR(pg_catalog.=) ANY (ARRAY['auditor', 'admin'])
                      AND pg_catalog.pg_has_role(mlops.current_actor(), g.role::oid, 'MEMBER'));
END
$$;
REVOKE ALL ON FUNCTION mlops._may_see_job(oid) FROM PUBLIC;

-- _own_job: the job of that name the actor acts on, locked, after the
-- ownership check.  The actor's own job comes first; else the one job of
-- that name it may change (a group's, or any as the extension owner); a job
-- it may see but not change raises the ownership error; a job it may not
-- see does not exist for it.
CREATE FUNCTION mlops._own_job(p_job_name text) RETURNS mlops.jobs
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs;
    id bigint;
    changeable bigint[];
    visible bigint[];
BEGIN
    SELECT x.job_id INTO id FROM mlops.jobs x
     WHERE x.job_name OPERATOR(pg_catalog.=) p_job_name
       AND x.owner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                           WHERE r.rolname OPERATOR(pg_catalog.=) mlops.current_actor());
    IF id IS NULL THEN
        SELECT pg_catalog.array_agg(x.job_id ORDER BY x.job_id) FILTER (WHERE mlops._may_change(x.owner::regrole)),
               pg_catalog.array_agg(x.job_id ORDER BY x.job_id)
          INTO changeable, visible
          FROM mlops.jobs x
         WHERE x.job_name OPERATOR(pg_catalog.=) p_job_name AND mlops._may_see_job(x.owner);
        IF pg_catalog.cardinality(changeable) OPERATOR(pg_catalog.>) 1 THEN
            RAISE EXCEPTION 'job name "%" is ambiguous', pg_catalog.left(p_job_name, 200)
                USING ERRCODE = 'ambiguous_parameter',
                      DETAIL = pg_catalog.format('You may change %s jobs of that name, of different owners.',
                                                 pg_catalog.cardinality(changeable)),
                      HINT = 'Act as the owner of the one you mean (SET ROLE) and call the function again.';
        END IF;
        id := COALESCE(changeable[1], visible[1]);
    END IF;
    IF id IS NOT NULL THEN
        SELECT * INTO j FROM mlops.jobs x WHERE x.job_id OPERATOR(pg_catalog.=) id FOR UPDATE;
    END IF;
    IF j.job_id IS NULL THEN
        RAISE EXCEPTION 'job "%" does not exist', COALESCE(pg_catalog.left(p_job_name, 200), 'NULL')
            USING ERRCODE = 'undefined_object',
                  DETAIL = pg_catalog.format('Role %s has no job of that name.', mlops.current_actor()),
                  HINT = 'List your jobs with SELECT job_name FROM mlops.jobs.';
    END IF;
    PERFORM mlops._require_owner('job', j.job_name, j.owner::regrole);
    RETURN j;
END
$$;
REVOKE ALL ON FUNCTION mlops._own_job(text) FROM PUBLIC;

-- _cancel_runs marks the unfinished runs of a job cancelled; the scheduler,
-- woken by the change of mlops.jobs that goes with it, terminates their
-- workers, and a worker that finishes anyway finds its run cancelled and
-- rolls its command back (mlops._finish_run).  Returns how many.
CREATE FUNCTION mlops._cancel_runs(p_job_id bigint, p_reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n integer;
BEGIN
    UPDATE mlops.job_runs
       SET status = 'cancelled', finished_at = pg_catalog.clock_timestamp(), message = p_reason
     WHERE job_id OPERATOR(pg_catalog.=) p_job_id
       AND status OPERATOR(pg_catalog.=) ANY (ARRAY['scheduled', 'running']);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION mlops._cancel_runs(bigint, text) FROM PUBLIC;

-- _finish_run records how a run ended, as its job worker saw it (the worker
-- calls it as the extension owner, in the transaction of the command when
-- the command succeeded).  A pipeline whose document says "failed" is a
-- failed run.  A run that has already ended (cancelled, or timed out by
-- the scheduler) keeps that outcome; if its command succeeded meanwhile,
-- this raises query_canceled so the command's effects roll back with it.
CREATE FUNCTION mlops._finish_run(p_run_id bigint, p_status text, p_rows bigint, p_result text,
                                  p_message text, p_is_pipeline boolean)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    doc jsonb;
    ended text;
BEGIN
    IF p_is_pipeline AND p_result IS NOT NULL THEN
        doc := p_result::jsonb;
        IF pg_catalog.jsonb_typeof(doc) OPERATOR(pg_catalog.<>) 'object' THEN
            doc := NULL;
        END IF;
    END IF;
    UPDATE mlops.job_runs
       SET status = CASE WHEN (doc OPERATOR(pg_catalog.->>) 'status') OPERATOR(pg_catalog.=) 'failed'
                         THEN 'failed' ELSE p_status END,
           message = COALESCE(doc OPERATOR(pg_catalog.->>) 'error', p_message),
           finished_at = pg_catalog.clock_timestamp(), rows = p_rows, result = p_result
     WHERE run_id OPERATOR(pg_catalog.=) p_run_id AND status OPERATOR(pg_catalog.=) 'running';
    IF NOT FOUND AND p_status OPERATOR(pg_catalog.=) 'succeeded' THEN
        SELECT r.status INTO ended FROM mlops.job_runs r WHERE r.run_id OPERATOR(pg_catalog.=) p_run_id;
        RAISE EXCEPTION 'the job run ended as % before its command finished', COALESCE(ended, 'deleted')
            USING ERRCODE = 'query_canceled',
                  DETAIL = pg_catalog.format('The effects of the command of run %s are rolled back.', p_run_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._finish_run(bigint, text, bigint, text, text, boolean) FROM PUBLIC;

-- _save_job creates or replaces the caller's job of that name.
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
    IF pg_catalog.length(p_job_name) OPERATOR(pg_catalog.>) 200 THEN
        RAISE EXCEPTION 'job name must be at most 200 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters.', pg_catalog.length(p_job_name));
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

-- _require_scheduler: the scheduler needs shared_preload_libraries.
CREATE FUNCTION mlops._require_scheduler() RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__require_scheduler';
REVOKE ALL ON FUNCTION mlops._require_scheduler() FROM PUBLIC;

-- schedule: validate => false skips parse analysis of the command (for
-- objects created later).
CREATE FUNCTION mlops._impl_schedule(job_name text, schedule text, command text, validate boolean)
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT mlops._save_job($1, $2, $3, NULL, NULL, $4) $$;
REVOKE ALL ON FUNCTION mlops._impl_schedule(text, text, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.schedule(job_name text, schedule text, command text, validate boolean DEFAULT true)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule(text, text, text, boolean) FROM PUBLIC;

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
    ELSIF pipeline OPERATOR(pg_catalog.=) 'deployment_pipeline' THEN
        allowed := ARRAY['model_name', 'model_version', 'environment', 'strategy', 'canary_percentage',
                         'validation', 'auto_rollback', 'steps'];
        required := ARRAY['model_name', 'model_version'];
    ELSE
        RAISE EXCEPTION 'unknown pipeline %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(pipeline, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The pipelines are training_pipeline, data_pipeline, monitoring_pipeline and deployment_pipeline.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(parameters) e ORDER BY e.key LOOP
        IF NOT k OPERATOR(pg_catalog.=) ANY (allowed) THEN
            RAISE EXCEPTION '% has no parameter "%"', pipeline, pg_catalog.left(k, 200)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = pg_catalog.format('Its parameters are %s.', pg_catalog.array_to_string(allowed, ', '));
        END IF;
        IF k OPERATOR(pg_catalog.=) ANY (ARRAY['hyperparams', 'min_metrics', 'rules', 'validation', 'auto_rollback', 'steps']) THEN
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::jsonb', k, v::text);
        ELSIF k OPERATOR(pg_catalog.=) ANY (ARRAY['model_version', 'canary_percentage']) THEN
            -- model_version null: the latest version when the job runs
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) ALL (ARRAY['number', 'null']) THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON number or null', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::%s', k, v OPERATOR(pg_catalog.->>) 0,
                CASE k WHEN 'model_version' THEN 'integer' ELSE 'float8' END);
        ELSIF k OPERATOR(pg_catalog.=) 'validate' THEN
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'boolean' THEN
                RAISE EXCEPTION 'parameter "validate" must be a JSON boolean'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %s', k, v::text);
        ELSE
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'string' THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON string', pg_catalog.left(k, 200)
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
CREATE FUNCTION mlops.schedule_pipeline(job_name text, pipeline text, schedule text,
                                        parameters jsonb DEFAULT '{}')
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule_pipeline(text, text, text, jsonb) FROM PUBLIC;

-- unschedule deletes the job; a run in progress is cancelled, and the run
-- history stays (job_id NULL, job_name kept).
CREATE FUNCTION mlops._impl_unschedule(job_name text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
    cancelled integer;
BEGIN
    cancelled := mlops._cancel_runs(j.job_id, pg_catalog.format('cancelled by %s: the job was unscheduled',
                                                                mlops.current_actor()));
    DELETE FROM mlops.jobs WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.unschedule', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name, 'owner', j.owner_name,
                                                             'cancelled_runs', cancelled));
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_unschedule(text) FROM PUBLIC;
CREATE FUNCTION mlops.unschedule(job_name text)
    RETURNS boolean LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.unschedule(text) FROM PUBLIC;

-- alter_job: NULL leaves a setting as it is.  enabled => true also resumes a
-- paused job, stamping it with this database; enabled => false also cancels
-- a run in progress and a pending run_job.  A new command runs as the job's
-- owner, so only members of the owner may set one (the extension owner's
-- right to change every object does not extend to writing SQL that runs as
-- another role).
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
    cancelled integer;
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
        IF NOT pg_catalog.pg_has_role(mlops.current_actor(), j.owner, 'MEMBER') THEN
            RAISE EXCEPTION 'permission denied to change the command of job "%"', j.job_name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('The command runs as role "%s"; only members of that role may change it.',
                                                 j.owner_name),
                      HINT = 'Ask a member of the owner to change it, or unschedule the job.';
        END IF;
        PERFORM mlops._check_job_command(command, j.job_name, j.owner, validate);
    END IF;
    IF max_runtime IS NOT NULL AND (max_runtime OPERATOR(pg_catalog.<=) '0'::interval
                                    OR max_runtime OPERATOR(pg_catalog.>) '10 years'::interval) THEN
        RAISE EXCEPTION 'max_runtime must be greater than 0 and at most 10 years'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It is %s.', max_runtime);
    END IF;
    IF max_retries IS NOT NULL AND (max_retries OPERATOR(pg_catalog.<) 0 OR max_retries OPERATOR(pg_catalog.>) 100) THEN
        RAISE EXCEPTION 'max_retries must be between 0 and 100' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = pg_catalog.format('It is %s.', max_retries);
    END IF;
    IF retry_delay IS NOT NULL AND (retry_delay OPERATOR(pg_catalog.<) '1 second'::interval
                                    OR retry_delay OPERATOR(pg_catalog.>) '1 hour'::interval) THEN
        RAISE EXCEPTION 'retry_delay must be between 1 second and 1 hour'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It is %s; retries back off from it, doubling, up to 1 hour.', retry_delay);
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
           failures = CASE WHEN $4 THEN 0 ELSE j.failures END,
           run_requested = CASE WHEN NOT $4 THEN false ELSE j.run_requested END
     WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    IF NOT $4 THEN
        cancelled := mlops._cancel_runs(j.job_id, pg_catalog.format('cancelled by %s: the job was disabled',
                                                                    mlops.current_actor()));
    END IF;
    PERFORM mlops._audit_event('job.alter', 'job', j.job_id::text,
                               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                   'job_name', j.job_name, 'owner', j.owner_name, 'schedule', $2, 'command', $3,
                                   'enabled', $4, 'max_runtime', $5, 'max_retries', $6, 'retry_delay', $7,
                                   'validate', CASE WHEN $3 IS NOT NULL THEN $8 END,
                                   'resumed', CASE WHEN $4 AND j.paused_reason IS NOT NULL THEN true END,
                                   'cancelled_runs', NULLIF(cancelled, 0))));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.alter_job(job_name text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                enabled boolean DEFAULT NULL, max_runtime interval DEFAULT NULL,
                                max_retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL,
                                validate boolean DEFAULT true)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;

-- run_job: run now, once, whether or not the job is enabled (a paused job
-- must be resumed first).
CREATE FUNCTION mlops._impl_run_job(job_name text)
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
                               pg_catalog.jsonb_build_object('job_name', j.job_name, 'owner', j.owner_name));
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
