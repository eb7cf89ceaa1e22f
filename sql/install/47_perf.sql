-- Drift statistics straight from tables (src/drift/tables.c): the table
-- forms of psi, kl_divergence, js_distance, wasserstein, ks_test and
-- chi_square_test read one column of two sources (a table, view or
-- read-only query, resolved by src/common/source.c as the caller) into C
-- arrays and run the same statistic code as the array forms (60_drift.sql),
-- with the same arguments, defaults and ranges.  They run user SQL, so they
-- are STABLE and PARALLEL RESTRICTED.  An untyped literal in the third
-- position resolves to these forms (PostgreSQL prefers the string category
-- for unknown literals); the array forms are chosen by array arguments.
CREATE FUNCTION mlops.psi(reference text, current text, column_name text, bins integer DEFAULT 10,
                          binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_psi_table';
REVOKE ALL ON FUNCTION mlops.psi(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.kl_divergence(reference text, current text, column_name text,
                                    bins integer DEFAULT 10, binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_kl_divergence_table';
REVOKE ALL ON FUNCTION mlops.kl_divergence(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.js_distance(reference text, current text, column_name text,
                                  bins integer DEFAULT 10, binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_js_distance_table';
REVOKE ALL ON FUNCTION mlops.js_distance(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.wasserstein(reference text, current text, column_name text)
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_wasserstein_table';
REVOKE ALL ON FUNCTION mlops.wasserstein(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.ks_test(reference text, current text, column_name text)
    RETURNS TABLE (statistic float8, p_value float8)
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_ks_test_table';
REVOKE ALL ON FUNCTION mlops.ks_test(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.chi_square_test(reference text, current text, column_name text)
    RETURNS TABLE (statistic float8, p_value float8, dof integer)
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_chi_square_test_table';
REVOKE ALL ON FUNCTION mlops.chi_square_test(text, text, text) FROM PUBLIC;
