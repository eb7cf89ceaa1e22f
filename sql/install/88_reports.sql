-- Reports and artifacts (issue 14): HTML reports built in C from the same
-- numbers the SQL functions return (src/report/), and run artifacts.
-- docs/reports.md describes every object here.
--
-- The reports are SECURITY INVOKER C functions: they read through SPI as
-- the caller (detect_drift, model_info, the view mlops.dashboard ...), so a
-- report shows what its caller may see.  Artifacts belong to their run:
-- logging one requires membership in the run's owner role
-- (mlops._run_for_update, the run's rule), reading them is governed by the
-- grants on mlops.artifacts() and mlops.get_artifact().

CREATE FUNCTION mlops.drift_report(name text, source text, methods text[] DEFAULT NULL,
                                   columns text[] DEFAULT NULL, format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_drift_report';
REVOKE ALL ON FUNCTION mlops.drift_report(text, text, text[], text[], text) FROM PUBLIC;

-- _dashboard_activity: per model (registered or monitored), its versions'
-- stages and the predictions recorded per minute over the last hour, oldest
-- minute first (60 values); the dashboard joins it to mlops.dashboard.
CREATE FUNCTION mlops._dashboard_activity()
    RETURNS TABLE (model text, stages text, per_minute float8[])
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH names AS (
        SELECT mo.name AS model FROM mlops.models mo
        UNION
        SELECT m.model FROM mlops.monitors m
    ), recent AS (
        SELECT m.model,
               pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) p.recorded_at)
                                OPERATOR(pg_catalog./) 60)::integer AS ago,
               pg_catalog.count(*) AS n
          FROM mlops.monitor_predictions p JOIN mlops.monitors m ON m.monitor_id OPERATOR(pg_catalog.=) p.monitor_id
         WHERE p.recorded_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::interval)
           AND p.recorded_at OPERATOR(pg_catalog.<=) pg_catalog.now()
         GROUP BY 1, 2
    )
    SELECT n.model,
           (SELECT pg_catalog.string_agg(pg_catalog.format('v%s %s', v.version, v.stage), ', ' ORDER BY v.version DESC)
              FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
             WHERE mo.name OPERATOR(pg_catalog.=) n.model
               AND (v.stage OPERATOR(pg_catalog.<>) 'Archived'
                    OR v.version OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(w.version) FROM mlops.model_versions w
                                                          WHERE w.model_id OPERATOR(pg_catalog.=) mo.model_id))),
           (SELECT pg_catalog.array_agg(COALESCE(r.n, 0)::float8 ORDER BY g.i DESC)
              FROM pg_catalog.generate_series(0, 59) g (i)
              LEFT JOIN recent r ON r.model OPERATOR(pg_catalog.=) n.model AND r.ago OPERATOR(pg_catalog.=) g.i)
      FROM names n
$$;
REVOKE ALL ON FUNCTION mlops._dashboard_activity() FROM PUBLIC;

CREATE FUNCTION mlops.dashboard_html(format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_dashboard_html';
REVOKE ALL ON FUNCTION mlops.dashboard_html(text) FROM PUBLIC;

CREATE FUNCTION mlops.model_report(model text, source text DEFAULT NULL, target text DEFAULT NULL,
                                   format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_model_report';
REVOKE ALL ON FUNCTION mlops.model_report(text, text, text, text) FROM PUBLIC;

-- Artifacts of runs (MLflow's log_artifact): they belong to their run.
CREATE TABLE mlops.run_artifacts (
    run_id       bigint NOT NULL REFERENCES mlops.runs (run_id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) '' AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 256),
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       bytea NOT NULL,
    content      bytea NOT NULL,
    logged_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    logged_by    name NOT NULL,
    PRIMARY KEY (run_id, name)
);
REVOKE ALL ON mlops.run_artifacts FROM PUBLIC;

-- log_artifact stores one artifact of a run; only members of the run's
-- owner may (the run's rule), at most mlops.artifact_max_mb megabytes.
CREATE FUNCTION mlops._impl_log_artifact(run_id bigint, name text, content bytea, content_type text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    max_mb integer := COALESCE(pg_catalog.current_setting('mlops.artifact_max_mb', true), '16')::integer;
BEGIN
    IF name IS NULL OR content IS NULL THEN
        RAISE EXCEPTION 'name and content must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF name OPERATOR(pg_catalog.=) '' OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'artifact name must have 1 to 256 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('This one has %s.', pg_catalog.length(name));
    END IF;
    IF pg_catalog.length(COALESCE(content_type, '')) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'content_type must have at most 256 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.octet_length(content)::bigint OPERATOR(pg_catalog.>) (max_mb::bigint OPERATOR(pg_catalog.*) 1048576) THEN
        RAISE EXCEPTION 'artifact is larger than mlops.artifact_max_mb'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = pg_catalog.format('It has %s bytes; the limit is %s MB.', pg_catalog.octet_length(content), max_mb),
                  HINT = 'A superuser may raise mlops.artifact_max_mb (1 to 1024).';
    END IF;
    PERFORM mlops._run_for_update(run_id, false);
    INSERT INTO mlops.run_artifacts (run_id, name, content_type, size, sha256, content, logged_by)
    VALUES (run_id, name, COALESCE(content_type, 'application/octet-stream'), pg_catalog.octet_length(content),
            pg_catalog.sha256(content), content, mlops.current_actor())
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % already has an artifact "%"', run_id, mlops._clip(name)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Artifacts are kept as logged; log this one under another name.';
    END IF;
    PERFORM mlops._audit_event('run.artifact', 'run', run_id::pg_catalog.text,
        pg_catalog.jsonb_build_object('name', name, 'size', pg_catalog.octet_length(content),
                                      'sha256', pg_catalog.encode(pg_catalog.sha256(content), 'hex')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_artifact(bigint, text, bytea, text) FROM PUBLIC;
CREATE FUNCTION mlops.log_artifact(run_id bigint, name text, content bytea, content_type text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.log_artifact(bigint, text, bytea, text) FROM PUBLIC;

-- artifacts lists a run's artifacts without their content.
CREATE FUNCTION mlops.artifacts(run_id bigint)
    RETURNS TABLE (name text, content_type text, size bigint, sha256 text, logged_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT a.name, a.content_type, a.size, pg_catalog.encode(a.sha256, 'hex'), a.logged_at
      FROM mlops.run_artifacts a WHERE a.run_id OPERATOR(pg_catalog.=) $1 ORDER BY a.name
$$;
REVOKE ALL ON FUNCTION mlops.artifacts(bigint) FROM PUBLIC;

-- get_artifact returns one artifact's content, or raises when there is none.
CREATE FUNCTION mlops.get_artifact(run_id bigint, name text)
    RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c bytea;
BEGIN
    SELECT a.content INTO c FROM mlops.run_artifacts a
     WHERE a.run_id OPERATOR(pg_catalog.=) $1 AND a.name OPERATOR(pg_catalog.=) $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % has no artifact "%"', COALESCE($1::pg_catalog.text, 'NULL'), mlops._clip($2)
            USING ERRCODE = 'undefined_object',
                  HINT = 'List them with SELECT * FROM mlops.artifacts(run_id).';
    END IF;
    RETURN c;
END
$$;
REVOKE ALL ON FUNCTION mlops.get_artifact(bigint, text) FROM PUBLIC;

-- _log_model_report logs the model report of the version a training run
-- registered as the artifact model_report.html of that run; mlops.train
-- calls it (src/train/train_tracking.c) before it ends the run.  A report
-- that cannot be made or stored is a WARNING, never a failed training.
CREATE FUNCTION mlops._log_model_report(p_run_id bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ref text;
    msg text;
BEGIN
    SELECT m.name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) v.version INTO ref
      FROM mlops.model_versions v JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) v.model_id
     WHERE v.run_id OPERATOR(pg_catalog.=) p_run_id
     ORDER BY v.version DESC LIMIT 1;
    IF ref IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        PERFORM mlops._impl_log_artifact(p_run_id, 'model_report.html',
                                         pg_catalog.convert_to(mlops.model_report(ref), 'UTF8'),
                                         'text/html; charset=utf-8');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE WARNING 'the model report of run % was not logged: %', p_run_id, msg;
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._log_model_report(bigint) FROM PUBLIC;
