-- Drift detection: statistics on arrays (src/drift/drift.c over the pure C
-- src/drift/stats*.c), drift references and checks (src/drift/reference*.c,
-- detect.c, sample.c), and ADWIN change detectors (src/drift/adwin_sql.c).
-- Sources are resolved by src/common/source.c, like every other source.
-- docs/drift.md explains every method, its formula and its defaults.

-- ---------------------------------------------------------------------------
-- Statistics on two samples.  NULL, NaN and infinite elements are dropped;
-- every array must be one-dimensional; bins lies in 2 .. 10000.
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

-- One row per reference: where it came from, and its owner (the role that
-- created it; changing, replacing, dropping it or recording checks against
-- it requires membership in that role, docs/security.md#ownership).
CREATE TABLE mlops.drift_references (
    name          text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.<>) ''),
    source        text NOT NULL,
    source_kind   text NOT NULL CHECK (source_kind OPERATOR(pg_catalog.=) ANY (ARRAY['query', 'model'])),
    model_id      bigint,
    model_version integer,
    row_count     bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL,
    owner         regrole NOT NULL,
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

-- _detect_drift_distributions is detect_drift (the same checks, recorded
-- the same way, thresholds the defaults) returning {"result": what
-- detect_drift returns, "distributions": per column the counts of both
-- samples on shared bins (numbers) or per category}, from one read of the
-- source: mlops.drift_report draws its charts from it.
CREATE FUNCTION mlops._detect_drift_distributions(name text, source text, methods text[] DEFAULT NULL,
                                                  columns text[] DEFAULT NULL, bins integer DEFAULT 20)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_detect_drift_distributions';
REVOKE ALL ON FUNCTION mlops._detect_drift_distributions(text, text, text[], text[], integer) FROM PUBLIC;

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

-- drop_drift_reference deletes a reference (its past results stay); only
-- members of its owner role may.
CREATE FUNCTION mlops._impl_drop_drift_reference(name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r_owner regrole;
BEGIN
    SELECT r.owner INTO r_owner FROM mlops.drift_references r WHERE r.name OPERATOR(pg_catalog.=) name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'drift reference "%" does not exist', pg_catalog.left(name, 200)
            USING ERRCODE = 'undefined_object',
                  HINT = 'List references with SELECT name FROM mlops.drift_references.';
    END IF;
    PERFORM mlops._require_owner('drift_reference', name, r_owner);
    DELETE FROM mlops.drift_references r WHERE r.name OPERATOR(pg_catalog.=) name;
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
-- Streaming ADWIN detectors, owned by the role that created them: updating
-- or dropping one requires membership in its owner role.
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
    created_by        name NOT NULL,
    owner             regrole NOT NULL
);
REVOKE ALL ON mlops.adwin_detectors FROM PUBLIC;

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
