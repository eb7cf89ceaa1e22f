-- A/B tests (docs/ab_testing.md): weighted variants, each an explicit model
-- reference; sticky per-user assignment at first exposure; conversions per
-- user; results with the two-proportion z-test, Wilson intervals, Welch's
-- t-test and Holm's adjustment; a sample-ratio-mismatch check.
--
-- An assignment is drawn once, from a 64-bit hash of (test id, user id)
-- against the cumulative weights (mlops._ab_choose, src/deploy/ab_sql.c),
-- and remembered in mlops.ab_assignments: a weight change never moves an
-- assigned user.  Each weight change starts a new weights_epoch; the
-- sample-ratio check compares the users assigned under the current weights
-- with those weights.  Only a test's owner changes or stops it; assigning,
-- predicting and recording conversions is what an application does, and is
-- governed by grants (the reader bundle).

CREATE TABLE mlops.ab_tests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE
                  CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    description   text,
    variants      jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(variants) OPERATOR(pg_catalog.=) 'array'),
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'stopped'])),
    winner        text,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    stopped_at    timestamptz,
    weights_epoch integer NOT NULL DEFAULT 1,
    owner         regrole NOT NULL
);
REVOKE ALL ON mlops.ab_tests FROM PUBLIC;

-- One row per user of a test: the variant of the first exposure, the
-- weights epoch it was drawn under, and the user's conversions (how many,
-- and the sum of their values: the per-user value Welch's test compares).
CREATE TABLE mlops.ab_assignments (
    test_id      bigint NOT NULL REFERENCES mlops.ab_tests (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    variant      text NOT NULL,
    epoch        integer NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    conversions  bigint NOT NULL DEFAULT 0,
    value        float8 NOT NULL DEFAULT 0,
    converted_at timestamptz,
    PRIMARY KEY (test_id, user_id)
);
REVOKE ALL ON mlops.ab_assignments FROM PUBLIC;

-- Every change of a test, and every change of an assignment that could
-- move a user (not inserts, not the conversions record_conversion adds),
-- empties the A/B caches of all backends (src/deploy/ab_cache.c).
CREATE FUNCTION mlops._ab_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops_ab_changed';
REVOKE ALL ON FUNCTION mlops._ab_changed() FROM PUBLIC;
CREATE TRIGGER ab_tests_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.ab_tests
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._ab_changed();
CREATE TRIGGER ab_assignments_changed AFTER UPDATE OF test_id, user_id, variant OR DELETE OR TRUNCATE
    ON mlops.ab_assignments FOR EACH STATEMENT EXECUTE FUNCTION mlops._ab_changed();

-- The C helpers (src/deploy/ab_sql.c): the first assignment's draw and the
-- statistics of ab_results and ab_test_health (src/deploy/ab_stats.c).
CREATE FUNCTION mlops._ab_choose(test_id bigint, user_id text, weights float8[]) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_choose';
REVOKE ALL ON FUNCTION mlops._ab_choose(bigint, text, float8[]) FROM PUBLIC;
CREATE FUNCTION mlops._ab_ztest(x1 bigint, n1 bigint, x0 bigint, n0 bigint) RETURNS float8
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_ztest';
REVOKE ALL ON FUNCTION mlops._ab_ztest(bigint, bigint, bigint, bigint) FROM PUBLIC;
CREATE FUNCTION mlops._ab_wilson(x bigint, n bigint, alpha float8) RETURNS float8[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_wilson';
REVOKE ALL ON FUNCTION mlops._ab_wilson(bigint, bigint, float8) FROM PUBLIC;
CREATE FUNCTION mlops._ab_welch(n1 bigint, mean1 float8, var1 float8, n0 bigint, mean0 float8, var0 float8)
    RETURNS float8
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_welch';
REVOKE ALL ON FUNCTION mlops._ab_welch(bigint, float8, float8, bigint, float8, float8) FROM PUBLIC;
CREATE FUNCTION mlops._ab_holm(p float8[]) RETURNS float8[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_holm';
REVOKE ALL ON FUNCTION mlops._ab_holm(float8[]) FROM PUBLIC;
CREATE FUNCTION mlops._ab_chisquare(observed bigint[], weights float8[]) RETURNS float8[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_ab_chisquare';
REVOKE ALL ON FUNCTION mlops._ab_chisquare(bigint[], float8[]) FROM PUBLIC;

-- _ab_test_named returns the test called p_name, locked FOR UPDATE when
-- for_change (and then only if the actor may change it), or raises
-- undefined_object.
CREATE FUNCTION mlops._ab_test_named(p_name text, for_change boolean DEFAULT false)
    RETURNS mlops.ab_tests
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t mlops.ab_tests;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'test must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF for_change THEN
        SELECT * INTO t FROM mlops.ab_tests WHERE ab_tests.name OPERATOR(pg_catalog.=) p_name FOR UPDATE;
    ELSE
        SELECT * INTO t FROM mlops.ab_tests WHERE ab_tests.name OPERATOR(pg_catalog.=) p_name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'a/b test "%" does not exist', mlops._clip(p_name)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_ab_test(name, variants); mlops.ab_tests lists them.';
    END IF;
    IF for_change THEN
        PERFORM mlops._require_owner('ab_test', t.name, t.owner);
    END IF;
    RETURN t;
END
$$;
REVOKE ALL ON FUNCTION mlops._ab_test_named(text, boolean) FROM PUBLIC;

-- _ab_check_user raises unless user_id is 1 to 256 characters.
CREATE FUNCTION mlops._ab_check_user(user_id text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the stable identifier of the user (or session) the test assigns.';
    END IF;
    IF user_id OPERATOR(pg_catalog.=) '' OR pg_catalog.length(user_id) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'user_id must be 1 to 256 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters.', pg_catalog.length(user_id));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._ab_check_user(text) FROM PUBLIC;

-- _ab_check_weights raises unless every weight is a number in [0, 1] and
-- they sum to 1 (within 1e-9); weights maps variant names to JSON values.
CREATE FUNCTION mlops._ab_check_weights(weights jsonb)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    bad text;
    total numeric;
BEGIN
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.format('%s: %s', w.key, mlops._clip(w.value::text))
                                                    ORDER BY w.key)) INTO bad
      FROM pg_catalog.jsonb_each(weights) w
     WHERE pg_catalog.jsonb_typeof(w.value) OPERATOR(pg_catalog.<>) 'number'
        OR w.value::numeric OPERATOR(pg_catalog.<) 0 OR w.value::numeric OPERATOR(pg_catalog.>) 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'variant weights must be numbers between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', bad);
    END IF;
    SELECT sum(w.value::numeric) INTO total FROM pg_catalog.jsonb_each(weights) w;
    IF total IS NULL OR pg_catalog.abs(total OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.>) 1e-9 THEN
        RAISE EXCEPTION 'variant weights must sum to 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('They sum to %s.', COALESCE(pg_catalog.round(total, 12)::text, 'nothing')),
                  HINT = 'For two equal variants use 0.5 and 0.5.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._ab_check_weights(jsonb) FROM PUBLIC;

-- create_ab_test registers a running test; variants is an array of
-- {"name", "model", "weight"}: 2 to 20 variants, one named "control",
-- names unique, models explicit references that resolve now, weights in
-- [0, 1] summing to 1.  Each variant is stored with the version its
-- reference resolved to ("model_name", "model_version") and whether that
-- version predicts probabilities: an arm never changes during the test.
CREATE FUNCTION mlops._impl_create_ab_test(name text, variants jsonb, description text)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    bad text;
    n integer;
    clean jsonb;
    weights jsonb;
    t mlops.ab_tests;
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid a/b test name %', COALESCE(pg_catalog.quote_literal(mlops._clip(name)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Test names are 1 to 128 letters, digits, "_", "." and "-".';
    END IF;
    IF pg_catalog.length(description) OPERATOR(pg_catalog.>) 10000 THEN
        RAISE EXCEPTION 'description must be at most 10000 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters.', pg_catalog.length(description));
    END IF;
    IF variants IS NULL OR pg_catalog.jsonb_typeof(variants) OPERATOR(pg_catalog.<>) 'array' THEN
        RAISE EXCEPTION 'variants must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''[{"name": "control", "model": "churn/1", "weight": 0.5}, {"name": "treatment", "model": "churn/2", "weight": 0.5}]''.';
    END IF;
    n := pg_catalog.jsonb_array_length(variants);
    IF n OPERATOR(pg_catalog.<) 2 OR n OPERATOR(pg_catalog.>) 20 THEN
        RAISE EXCEPTION 'an a/b test has 2 to 20 variants'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', n);
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.format('#%s: %s', e.ord, mlops._clip(e.v::text)) ORDER BY e.ord)) INTO bad
      FROM pg_catalog.jsonb_array_elements(variants) WITH ORDINALITY e (v, ord)
     WHERE pg_catalog.jsonb_typeof(e.v) OPERATOR(pg_catalog.<>) 'object'
        OR pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'name') IS DISTINCT FROM 'string'
        OR pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'model') IS DISTINCT FROM 'string'
        OR pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) 'weight') IS DISTINCT FROM 'number'
        OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(e.v) k
                    WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['name', 'model', 'weight'])
                      AND pg_catalog.jsonb_typeof(e.v) OPERATOR(pg_catalog.=) 'object');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'each variant must be an object with a string "name", a string "model" and a number "weight"'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', bad);
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(mlops._clip(e.v OPERATOR(pg_catalog.->>) 'name')) ORDER BY e.ord)) INTO bad
      FROM pg_catalog.jsonb_array_elements(variants) WITH ORDINALITY e (v, ord)
     WHERE (e.v OPERATOR(pg_catalog.->>) 'name') OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid variant name %', bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Variant names are 1 to 64 letters, digits, "_", "." and "-".';
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(d.nm) ORDER BY d.nm)) INTO bad
      FROM (SELECT e.v OPERATOR(pg_catalog.->>) 'name' AS nm
              FROM pg_catalog.jsonb_array_elements(variants) e (v)
             GROUP BY 1 HAVING count(*) OPERATOR(pg_catalog.>) 1) d;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'duplicate variant name %', bad
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_catalog.jsonb_path_exists(variants, '$[*] ? (@.name == "control")') THEN
        RAISE EXCEPTION 'an a/b test needs a variant named "control"'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Results compare every other variant with the control.';
    END IF;
    SELECT pg_catalog.jsonb_object_agg(e.v OPERATOR(pg_catalog.->>) 'name', e.v OPERATOR(pg_catalog.->) 'weight') INTO weights
      FROM pg_catalog.jsonb_array_elements(variants) e (v);
    PERFORM mlops._ab_check_weights(weights);
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(mlops._clip(e.v OPERATOR(pg_catalog.->>) 'model')) ORDER BY e.ord)) INTO bad
      FROM pg_catalog.jsonb_array_elements(variants) WITH ORDINALITY e (v, ord)
     WHERE pg_catalog.strpos(e.v OPERATOR(pg_catalog.->>) 'model', '/') OPERATOR(pg_catalog.=) 0
       AND pg_catalog.strpos(e.v OPERATOR(pg_catalog.->>) 'model', '@') OPERATOR(pg_catalog.=) 0;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'variant models must be explicit references'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', bad),
                  HINT = 'Use ''name/3'', ''name/Production'' or ''name@alias'': a bare model name would follow deployments.';
    END IF;
    -- every model resolves now (resolve_model raises otherwise), and each arm
    -- keeps the version it resolved to for the life of the test
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'name', e.v OPERATOR(pg_catalog.->>) 'name',
               'model', e.v OPERATOR(pg_catalog.->>) 'model',
               'weight', (e.v OPERATOR(pg_catalog.->>) 'weight')::float8,
               'model_name', r.name, 'model_version', r.version,
               'probability', mv.task OPERATOR(pg_catalog.=) 'classification'
                   AND COALESCE(mv.params OPERATOR(pg_catalog.->>) 'objective', '')
                       OPERATOR(pg_catalog.<>) ALL (ARRAY['multi:softmax', 'binary:hinge'])) ORDER BY e.ord) INTO clean
      FROM pg_catalog.jsonb_array_elements(variants) WITH ORDINALITY e (v, ord)
      CROSS JOIN LATERAL mlops.resolve_model(e.v OPERATOR(pg_catalog.->>) 'model') r
      JOIN mlops.model_versions mv
        ON mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.version OPERATOR(pg_catalog.=) r.version;
    IF EXISTS (SELECT 1 FROM mlops.ab_tests WHERE ab_tests.name OPERATOR(pg_catalog.=) name) THEN
        RAISE EXCEPTION 'a/b test "%" already exists', name
            USING ERRCODE = 'unique_violation',
                  HINT = 'Pick another name; a stopped test keeps its name and results.';
    END IF;
    INSERT INTO mlops.ab_tests (name, description, variants, created_by, owner)
    VALUES (name, description, clean, mlops.current_actor(), mlops.current_actor()::regrole)
    RETURNING * INTO t;
    PERFORM mlops._audit_event('ab_test.create', 'ab_test', name,
        pg_catalog.jsonb_build_object('id', t.id, 'variants', clean, 'description', description));
    RETURN t.id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_create_ab_test(text, jsonb, text) FROM PUBLIC;
CREATE FUNCTION mlops.create_ab_test(name text, variants jsonb, description text DEFAULT NULL)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.create_ab_test(text, jsonb, text) FROM PUBLIC;

-- set_ab_weights changes the weights of a running test's variants for the
-- users not assigned yet; weights names every variant: {"control": 0.8,
-- "treatment": 0.2}.  Assigned users keep their variant.
CREATE FUNCTION mlops._impl_set_ab_weights(test text, weights jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    t mlops.ab_tests := mlops._ab_test_named(test, true);
    bad text;
    clean jsonb;
BEGIN
    IF t.state OPERATOR(pg_catalog.<>) 'running' THEN
        RAISE EXCEPTION 'a/b test "%" is stopped', t.name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF weights IS NULL OR pg_catalog.jsonb_typeof(weights) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'weights must be a JSON object of variant names and weights'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{"control": 0.8, "treatment": 0.2}''.';
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(mlops._clip(k.key)) ORDER BY k.key)) INTO bad
      FROM (SELECT w.key FROM pg_catalog.jsonb_object_keys(weights) w (key)
             WHERE NOT pg_catalog.jsonb_path_exists(t.variants, '$[*] ? (@.name == $n)',
                                                    pg_catalog.jsonb_build_object('n', w.key))
            UNION ALL
            SELECT v.elem OPERATOR(pg_catalog.->>) 'name' FROM pg_catalog.jsonb_array_elements(t.variants) v (elem)
             WHERE NOT weights OPERATOR(pg_catalog.?) (v.elem OPERATOR(pg_catalog.->>) 'name')) k;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'weights must name exactly the variants of a/b test "%"', t.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Unknown or missing: %s.', bad);
    END IF;
    PERFORM mlops._ab_check_weights(weights);
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_set(e.v, '{weight}',
               pg_catalog.to_jsonb((weights OPERATOR(pg_catalog.->>) (e.v OPERATOR(pg_catalog.->>) 'name'))::float8)) ORDER BY e.ord)
      INTO clean
      FROM pg_catalog.jsonb_array_elements(t.variants) WITH ORDINALITY e (v, ord);
    UPDATE mlops.ab_tests SET variants = clean, weights_epoch = ab_tests.weights_epoch OPERATOR(pg_catalog.+) 1
     WHERE ab_tests.id OPERATOR(pg_catalog.=) t.id;
    PERFORM mlops._audit_event('ab_test.set_weights', 'ab_test', t.name,
        pg_catalog.jsonb_build_object('id', t.id, 'from', t.variants, 'to', clean,
                                      'weights_epoch', t.weights_epoch OPERATOR(pg_catalog.+) 1));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_ab_weights(text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.set_ab_weights(test text, weights jsonb)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_ab_weights(text, jsonb) FROM PUBLIC;

-- _ab_variant returns the variant of a user and its arm (the stored
-- variant object): the recorded one, else (running test) a new assignment
-- drawn from the hash and recorded; a stopped test gives everyone its
-- winner (control when it has none) and records nothing.  ab_assign looks
-- an assigned user up with _ab_assigned, ab_predict with two index probes
-- (src/deploy/ab_predict.c); both come here only for a first exposure or
-- an error.
CREATE FUNCTION mlops._ab_variant(test text, user_id text, OUT variant text, OUT arm jsonb)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    t_id bigint;
    t_state text;
    t_winner text;
    t_variants jsonb;
    t_epoch integer;
    idx integer;
BEGIN
    PERFORM mlops._ab_check_user(user_id);
    IF test IS NULL THEN
        RAISE EXCEPTION 'test must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT t.id, t.state, t.winner, t.variants, a.variant
      INTO t_id, t_state, t_winner, t_variants, variant
      FROM mlops.ab_tests t
      LEFT JOIN mlops.ab_assignments a
        ON a.test_id OPERATOR(pg_catalog.=) t.id AND a.user_id OPERATOR(pg_catalog.=) user_id
     WHERE t.name OPERATOR(pg_catalog.=) test;
    IF NOT FOUND THEN
        PERFORM mlops._ab_test_named(test);     -- raises undefined_object
    END IF;
    IF t_state OPERATOR(pg_catalog.=) 'running' AND variant IS NULL THEN
        -- first exposure: the test row is share-locked so that weights and
        -- state cannot change between the draw and the insert
        SELECT t.variants, t.weights_epoch, t.state, t.winner INTO t_variants, t_epoch, t_state, t_winner
          FROM mlops.ab_tests t WHERE t.id OPERATOR(pg_catalog.=) t_id FOR SHARE;
    END IF;
    IF t_state OPERATOR(pg_catalog.=) 'stopped' THEN
        variant := COALESCE(t_winner, 'control');
    ELSIF variant IS NULL THEN
        idx := mlops._ab_choose(t_id, user_id,
                                ARRAY(SELECT (e.v OPERATOR(pg_catalog.->>) 'weight')::float8
                                        FROM pg_catalog.jsonb_array_elements(t_variants) WITH ORDINALITY e (v, ord)
                                       ORDER BY e.ord));
        variant := t_variants OPERATOR(pg_catalog.->) (idx OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.->>) 'name';
        INSERT INTO mlops.ab_assignments (test_id, user_id, variant, epoch)
        VALUES (t_id, user_id, variant, t_epoch)
        ON CONFLICT ON CONSTRAINT ab_assignments_pkey DO NOTHING;
        IF NOT FOUND THEN
            -- another session assigned the user first: theirs stands
            SELECT a.variant INTO variant FROM mlops.ab_assignments a
             WHERE a.test_id OPERATOR(pg_catalog.=) t_id AND a.user_id OPERATOR(pg_catalog.=) user_id;
        END IF;
    END IF;
    arm := pg_catalog.jsonb_path_query_first(t_variants, '$[*] ? (@.name == $v)',
                                             pg_catalog.jsonb_build_object('v', variant));
END
$$;
REVOKE ALL ON FUNCTION mlops._ab_variant(text, text) FROM PUBLIC;

-- _ab_assigned returns the variant and arm of a user already assigned in a
-- running test, or of everyone in a stopped one, in one indexed query;
-- nothing when the user is new (or an argument is bad: _ab_variant says so).
-- No SET clause, on purpose: the planner then inlines it into its callers'
-- cached plans (every name in it is schema-qualified, and its callers pin
-- search_path).
CREATE FUNCTION mlops._ab_assigned(test text, user_id text, OUT variant text, OUT arm jsonb)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    AS $$
    SELECT s.variant, pg_catalog.jsonb_path_query_first(s.variants, '$[*] ? (@.name == $v)',
                                                        pg_catalog.jsonb_build_object('v', s.variant))
      FROM (SELECT CASE WHEN t.state OPERATOR(pg_catalog.=) 'stopped' THEN COALESCE(t.winner, 'control')
                        ELSE a.variant END AS variant, t.variants
              FROM mlops.ab_tests t
              LEFT JOIN mlops.ab_assignments a
                ON a.test_id OPERATOR(pg_catalog.=) t.id AND a.user_id OPERATOR(pg_catalog.=) $2
             WHERE t.name OPERATOR(pg_catalog.=) $1) s
     WHERE s.variant IS NOT NULL
$$;
REVOKE ALL ON FUNCTION mlops._ab_assigned(text, text) FROM PUBLIC;

-- ab_assign returns the user's variant, assigning it at first exposure.
CREATE FUNCTION mlops._impl_ab_assign(test text, user_id text)
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    v text;
BEGIN
    SELECT s.variant INTO v FROM mlops._ab_assigned(test, user_id) s;
    IF v IS NULL THEN
        SELECT s.variant INTO v FROM mlops._ab_variant(test, user_id) s;
    END IF;
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_ab_assign(text, text) FROM PUBLIC;
CREATE FUNCTION mlops.ab_assign(test text, user_id text)
    RETURNS text LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.ab_assign(text, text) FROM PUBLIC;

-- ab_predict predicts for a user with the model version of the user's
-- variant: {"test", "variant", "model", "model_version", "prediction",
-- "probability"}.  The prediction is made with that exact version
-- (name/N), which never routes; probability is the predicted class's
-- probability for a classifier that outputs probabilities, else null.
-- It is C (src/deploy/ab_predict.c): an assigned user is answered from a
-- per-backend cache of tests and assignments (src/deploy/ab_cache.c), a new
-- one through mlops._ab_variant, run as the extension owner.
CREATE FUNCTION mlops.ab_predict(test text, user_id text, features jsonb)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_ab_predict';
REVOKE ALL ON FUNCTION mlops.ab_predict(text, text, jsonb) FROM PUBLIC;

-- record_conversion records one conversion of an assigned user with a
-- value (default 1; finite, within +-1e12): the user counts as converted,
-- and the value adds to the user's total.
CREATE FUNCTION mlops._impl_record_conversion(test text, user_id text, value float8)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    t mlops.ab_tests;
BEGIN
    PERFORM mlops._ab_check_user(user_id);
    IF value IS NULL OR NOT (pg_catalog.abs(value) OPERATOR(pg_catalog.<=) 1e12) THEN
        RAISE EXCEPTION 'value must be a finite number between -1e12 and 1e12'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(value::text, 'NULL'));
    END IF;
    t := mlops._ab_test_named(test);
    IF t.state OPERATOR(pg_catalog.<>) 'running' THEN
        RAISE EXCEPTION 'a/b test "%" is stopped', t.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A stopped test records no more conversions; its results are final.';
    END IF;
    UPDATE mlops.ab_assignments a
       SET conversions = a.conversions OPERATOR(pg_catalog.+) 1,
           value = a.value OPERATOR(pg_catalog.+) value,
           converted_at = pg_catalog.now()
     WHERE a.test_id OPERATOR(pg_catalog.=) t.id AND a.user_id OPERATOR(pg_catalog.=) user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is not assigned in a/b test "%"', mlops._clip(user_id), t.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A user is assigned at first exposure, by mlops.ab_assign or mlops.ab_predict; record conversions after it.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_record_conversion(text, text, float8) FROM PUBLIC;
CREATE FUNCTION mlops.record_conversion(test text, user_id text, value float8 DEFAULT 1)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.record_conversion(text, text, float8) FROM PUBLIC;

-- stop_ab_test stops a running test, optionally naming its winner; with
-- promote, the winner's model version (the one it was tested with) moves
-- to Production through
-- mlops.transition_stage, which the actor must be allowed to call (and
-- which requires the actor to own the model).
CREATE FUNCTION mlops._impl_stop_ab_test(test text, winner text, promote boolean)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    t mlops.ab_tests := mlops._ab_test_named(test, true);
    arm jsonb;
    m_name text;
    m_version integer;
BEGIN
    IF t.state OPERATOR(pg_catalog.<>) 'running' THEN
        RAISE EXCEPTION 'a/b test "%" is already stopped', t.name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF promote IS NULL THEN
        RAISE EXCEPTION 'promote must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF winner IS NOT NULL THEN
        arm := pg_catalog.jsonb_path_query_first(t.variants, '$[*] ? (@.name == $v)',
                                                 pg_catalog.jsonb_build_object('v', winner));
        IF arm IS NULL THEN
            RAISE EXCEPTION 'a/b test "%" has no variant "%"', t.name, mlops._clip(winner)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('Its variants are %s.',
                          (SELECT mlops._bounded_list(pg_catalog.array_agg(e.v OPERATOR(pg_catalog.->>) 'name'))
                             FROM pg_catalog.jsonb_array_elements(t.variants) e (v)));
        END IF;
    ELSIF promote THEN
        RAISE EXCEPTION 'promote needs a winner'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the variant whose model version goes to Production.';
    END IF;
    IF promote THEN
        IF NOT pg_catalog.has_function_privilege(mlops.current_actor()::regrole::oid,
                   'mlops.transition_stage(text, integer, text, boolean)', 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied to promote the winner of a/b test "%"', t.name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Promoting calls mlops.transition_stage, which the current role may not execute.',
                      HINT = 'Stop the test without promote, or ask for the deployer capability.';
        END IF;
        m_name := arm OPERATOR(pg_catalog.->>) 'model_name';
        m_version := (arm OPERATOR(pg_catalog.->>) 'model_version')::integer;
        PERFORM mlops.transition_stage(m_name, m_version, 'Production');
    END IF;
    UPDATE mlops.ab_tests SET state = 'stopped', winner = winner, stopped_at = pg_catalog.now()
     WHERE ab_tests.id OPERATOR(pg_catalog.=) t.id;
    PERFORM mlops._audit_event('ab_test.stop', 'ab_test', t.name,
        pg_catalog.jsonb_build_object('id', t.id, 'winner', winner, 'promoted',
            CASE WHEN promote THEN pg_catalog.jsonb_build_object('model', m_name, 'version', m_version) END));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_stop_ab_test(text, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.stop_ab_test(test text, winner text DEFAULT NULL, promote boolean DEFAULT false)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.stop_ab_test(text, text, boolean) FROM PUBLIC;

-- ab_results returns one row per variant, in the test's order: users,
-- converted users, the conversion rate and its Wilson interval at level
-- 1 - alpha, and, for every variant but the control, the lift over the
-- control's rate, the two-proportion z-test's p-value against the
-- control, that p-value Holm-adjusted across the non-control variants,
-- whether the adjusted p-value is below alpha, and Welch's t-test of the
-- per-user values against the control's.  Undefined statistics are NULL.
CREATE FUNCTION mlops.ab_results(test text, alpha float8 DEFAULT 0.05)
    RETURNS TABLE(variant text, users bigint, conversions bigint, conversion_rate float8,
                  ci_low float8, ci_high float8, lift float8, p_value float8,
                  p_value_adjusted float8, significant boolean, mean_value float8,
                  value_p_value float8)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    t mlops.ab_tests;
    names text[];
    ns bigint[];
    xs bigint[];
    ms float8[];
    s2s float8[];
    c integer;
    ci float8[];
    ps float8[] := '{}';
    adj float8[];
    k integer := 0;
BEGIN
    IF alpha IS NULL OR NOT (alpha OPERATOR(pg_catalog.>) 0 AND alpha OPERATOR(pg_catalog.<) 1) THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1 (exclusive)'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(alpha::text, 'NULL'));
    END IF;
    t := mlops._ab_test_named(test);
    -- per variant, in the test's order: users, converted users, mean and
    -- sample variance of the per-user values
    SELECT pg_catalog.array_agg(e.v OPERATOR(pg_catalog.->>) 'name' ORDER BY e.ord),
           pg_catalog.array_agg(COALESCE(g.n, 0) ORDER BY e.ord),
           pg_catalog.array_agg(COALESCE(g.x, 0) ORDER BY e.ord),
           pg_catalog.array_agg(g.m ORDER BY e.ord),
           pg_catalog.array_agg(g.s2 ORDER BY e.ord)
      INTO names, ns, xs, ms, s2s
      FROM pg_catalog.jsonb_array_elements(t.variants) WITH ORDINALITY e (v, ord)
      LEFT JOIN (SELECT a.variant, count(*) AS n,
                        count(*) FILTER (WHERE a.conversions OPERATOR(pg_catalog.>) 0) AS x,
                        avg(a.value) AS m, var_samp(a.value) AS s2
                   FROM mlops.ab_assignments a
                  WHERE a.test_id OPERATOR(pg_catalog.=) t.id
                  GROUP BY a.variant) g
        ON g.variant OPERATOR(pg_catalog.=) (e.v OPERATOR(pg_catalog.->>) 'name');
    c := pg_catalog.array_position(names, 'control');
    FOR i IN 1 .. pg_catalog.cardinality(names) LOOP
        IF i OPERATOR(pg_catalog.<>) c THEN
            ps := ps OPERATOR(pg_catalog.||) mlops._ab_ztest(xs[i], ns[i], xs[c], ns[c]);
        END IF;
    END LOOP;
    adj := mlops._ab_holm(ps);
    FOR i IN 1 .. pg_catalog.cardinality(names) LOOP
        ci := mlops._ab_wilson(xs[i], ns[i], alpha);
        variant := names[i];
        users := ns[i];
        conversions := xs[i];
        conversion_rate := CASE WHEN ns[i] OPERATOR(pg_catalog.>) 0 THEN xs[i]::float8 OPERATOR(pg_catalog./) ns[i] END;
        ci_low := ci[1];
        ci_high := ci[2];
        mean_value := ms[i];
        IF i OPERATOR(pg_catalog.=) c THEN
            lift := NULL;
            p_value := NULL;
            p_value_adjusted := NULL;
            significant := NULL;
            value_p_value := NULL;
        ELSE
            k := k OPERATOR(pg_catalog.+) 1;
            lift := CASE WHEN ns[i] OPERATOR(pg_catalog.>) 0 AND xs[c] OPERATOR(pg_catalog.>) 0
                         THEN (xs[i]::float8 OPERATOR(pg_catalog./) ns[i])
                              OPERATOR(pg_catalog./) (xs[c]::float8 OPERATOR(pg_catalog./) ns[c])
                              OPERATOR(pg_catalog.-) 1 END;
            p_value := ps[k];
            p_value_adjusted := adj[k];
            significant := adj[k] OPERATOR(pg_catalog.<) alpha;
            value_p_value := mlops._ab_welch(ns[i], ms[i], s2s[i], ns[c], ms[c], s2s[c]);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mlops.ab_results(text, float8) FROM PUBLIC;

-- ab_test_health checks a test's randomisation: the chi-square goodness of
-- fit of the users assigned under the current weights against those
-- weights (a sample ratio mismatch when its p-value is below 0.001).
CREATE FUNCTION mlops.ab_test_health(test text)
    RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    t mlops.ab_tests := mlops._ab_test_named(test);
    per jsonb;
    obs bigint[];
    w float8[];
    total bigint;
    chi float8[];
    srm boolean;
BEGIN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'name', q.name, 'weight', q.weight, 'users', q.users, 'users_current_weights', q.cur,
               'expected_users', q.weight OPERATOR(pg_catalog.*) q.cur_total::float8) ORDER BY q.ord),
           pg_catalog.array_agg(q.cur ORDER BY q.ord) FILTER (WHERE q.weight OPERATOR(pg_catalog.>) 0),
           pg_catalog.array_agg(q.weight ORDER BY q.ord) FILTER (WHERE q.weight OPERATOR(pg_catalog.>) 0),
           sum(q.users)
      INTO per, obs, w, total
      FROM (SELECT e.ord, e.v OPERATOR(pg_catalog.->>) 'name' AS name,
                   (e.v OPERATOR(pg_catalog.->>) 'weight')::float8 AS weight,
                   COALESCE(g.users, 0) AS users, COALESCE(g.cur, 0) AS cur,
                   sum(COALESCE(g.cur, 0)) OVER () AS cur_total
              FROM pg_catalog.jsonb_array_elements(t.variants) WITH ORDINALITY e (v, ord)
              LEFT JOIN (SELECT a.variant, count(*) AS users,
                                count(*) FILTER (WHERE a.epoch OPERATOR(pg_catalog.=) t.weights_epoch) AS cur
                           FROM mlops.ab_assignments a
                          WHERE a.test_id OPERATOR(pg_catalog.=) t.id
                          GROUP BY a.variant) g
                ON g.variant OPERATOR(pg_catalog.=) (e.v OPERATOR(pg_catalog.->>) 'name')) q;
    IF pg_catalog.cardinality(obs) OPERATOR(pg_catalog.>=) 2 THEN
        chi := mlops._ab_chisquare(obs, w);
    END IF;
    srm := chi[3] OPERATOR(pg_catalog.<) 0.001;
    RETURN pg_catalog.jsonb_build_object(
        'test', t.name, 'state', t.state, 'winner', t.winner, 'users', total,
        'weights_epoch', t.weights_epoch, 'variants', per,
        'srm_statistic', chi[1], 'srm_dof', chi[2]::integer, 'srm_p_value', chi[3],
        'srm_threshold', 0.001, 'sample_ratio_mismatch', srm,
        'status', CASE WHEN srm IS NULL THEN 'insufficient_data'
                       WHEN srm THEN 'sample_ratio_mismatch' ELSE 'ok' END);
END
$$;
REVOKE ALL ON FUNCTION mlops.ab_test_health(text) FROM PUBLIC;
