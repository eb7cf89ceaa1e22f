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
