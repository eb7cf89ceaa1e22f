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
-- real[] casts implicitly to float8[]; a real[] overload made numeric[] and integer[] arguments
-- ambiguous.  The text overloads take untyped literals ('{"age": 35}', '{5.1, 3.5}').
DROP FUNCTION mlops.predict(text, real[]);
CREATE FUNCTION mlops.predict(model text, features text) RETURNS float8
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_text';
REVOKE ALL ON FUNCTION mlops.predict(text, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features text) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_text';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, text) FROM PUBLIC;

-- predict_label returns the predicted class's label (classifiers only).
CREATE FUNCTION mlops.predict_label(model text, features float8[]) RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_float8';
REVOKE ALL ON FUNCTION mlops.predict_label(text, float8[]) FROM PUBLIC;

CREATE FUNCTION mlops.predict_label(model text, features jsonb) RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_jsonb';
REVOKE ALL ON FUNCTION mlops.predict_label(text, jsonb) FROM PUBLIC;

CREATE FUNCTION mlops.predict_label(model text, features text) RETURNS text
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_text';
REVOKE ALL ON FUNCTION mlops.predict_label(text, text) FROM PUBLIC;

-- predict_table gains a label column
DROP FUNCTION mlops.predict_table(text, text, text);
-- predict_table and predict_proba_table read source as the calling user;
-- label is the class label of a classifier's prediction, NULL for others.
CREATE FUNCTION mlops.predict_table(model text, source text, id_column text DEFAULT NULL)
    RETURNS TABLE(id text, prediction float8, label text)
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_predict_table';
REVOKE ALL ON FUNCTION mlops.predict_table(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba_table(model text, source text, id_column text DEFAULT NULL)
    RETURNS TABLE(id text, probabilities float8[])
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_table';
REVOKE ALL ON FUNCTION mlops.predict_proba_table(text, text, text) FROM PUBLIC;



-- ==== drift ====


-- ==== monitoring and alerts ====


-- ==== scheduler and pipelines ====


-- ==== audit and trust model ====


-- ==== end ====
