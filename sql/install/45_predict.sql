-- Serving predictions (src/serve/predict.c, model_cache.c,
-- prediction_stats.c, health.c).  Predictions depend on the registry, so
-- they are STABLE, never IMMUTABLE; they are PARALLEL SAFE so a large scan
-- may use parallel workers.
--
-- One row's features come as float8[] (real[], numeric[] and integer arrays
-- cast to it implicitly), jsonb (an object of named features or an array in
-- training order), or text: an untyped literal such as '{"age": 35}' or
-- '{5.1, 3.5}' resolves to the text overload (PostgreSQL prefers the string
-- category for unknown literals), which reads a JSON object or array as
-- jsonb and anything else as a float8[] literal.
--
-- routing_key: a bare model name routes through its active production
-- deployment (docs/deployments.md); calls with the same key get the same
-- version for the life of the deployment.  A NULL model or features
-- returns NULL.

CREATE FUNCTION mlops.predict(model text, features float8[], routing_key text DEFAULT NULL) RETURNS float8
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_float8';
REVOKE ALL ON FUNCTION mlops.predict(text, float8[], text) FROM PUBLIC;

CREATE FUNCTION mlops.predict(model text, features jsonb, routing_key text DEFAULT NULL) RETURNS float8
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_jsonb';
REVOKE ALL ON FUNCTION mlops.predict(text, jsonb, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict(model text, features text, routing_key text DEFAULT NULL) RETURNS float8
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_text';
REVOKE ALL ON FUNCTION mlops.predict(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features float8[], routing_key text DEFAULT NULL) RETURNS float8[]
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_float8';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, float8[], text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features jsonb, routing_key text DEFAULT NULL) RETURNS float8[]
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_jsonb';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, jsonb, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_proba(model text, features text, routing_key text DEFAULT NULL) RETURNS float8[]
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_proba_text';
REVOKE ALL ON FUNCTION mlops.predict_proba(text, text, text) FROM PUBLIC;

-- predict_label returns the predicted class's label (classifiers only).
CREATE FUNCTION mlops.predict_label(model text, features float8[], routing_key text DEFAULT NULL) RETURNS text
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_float8';
REVOKE ALL ON FUNCTION mlops.predict_label(text, float8[], text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_label(model text, features jsonb, routing_key text DEFAULT NULL) RETURNS text
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_jsonb';
REVOKE ALL ON FUNCTION mlops.predict_label(text, jsonb, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_label(model text, features text, routing_key text DEFAULT NULL) RETURNS text
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_label_text';
REVOKE ALL ON FUNCTION mlops.predict_label(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.predict_batch(model text, instances jsonb) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_batch';
REVOKE ALL ON FUNCTION mlops.predict_batch(text, jsonb) FROM PUBLIC;

-- _predict_scores: {prediction, probability of the predicted class (NULL
-- unless a classifier outputs probabilities)} from one evaluation, what
-- mlops.ab_predict needs of a prediction (src/deploy/ab_predict.c).
CREATE FUNCTION mlops._predict_scores(model text, features jsonb) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_scores';
REVOKE ALL ON FUNCTION mlops._predict_scores(text, jsonb) FROM PUBLIC;

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
