-- Pipelines: multi-step SQL functions recorded in mlops.pipeline_runs.
--
-- Each public pipeline function is LANGUAGE C (src/sched/pipelines.c): it
-- calls mlops._impl_<pipeline> AS THE CALLER (the implementation is SECURITY
-- INVOKER, so the user's data is read with the user's privileges and
-- search_path), then records the returned document in mlops.pipeline_runs as
-- the extension owner.  An implementation never raises: it catches the error
-- of the failing step (which rolls that pipeline's work back) and returns
-- {"status": "failed", ...}, so the failure is recorded too.  A scheduled
-- pipeline job whose result says "failed" is a failed job run.
--
-- Sources: training_pipeline and data_pipeline take a data_source, which the
-- C function (mlops_source_pipeline_trampoline) resolves as the caller
-- through the one source resolver (src/common/source.c) before the
-- implementation starts.  The implementation gets one more argument,
-- p_source: {"query": the resolved query} or {"error": the resolver's
-- error}, which its first step raises so that it is recorded like any
-- other step failure.  No pipeline parses a source itself.
--
-- Writes (data_pipeline): the output table is created by the pipeline, or is
-- an existing table whose owner the caller is (or is a member of; a
-- superuser's implicit membership in every role does not count, so a table
-- planted by another role, whose triggers would run with the caller's
-- rights, is never written).  Pipelines creating the same table are
-- serialised by an advisory lock on its name.

-- training_pipeline: validate, train, evaluate, register, promote to Staging
-- when every min_metrics threshold is met.
CREATE FUNCTION mlops._impl_training_pipeline(p_data_source text, p_target_column text, p_model_name text,
                                              p_model_type text, p_experiment_name text, p_task text,
                                              p_hyperparams jsonb, p_min_metrics jsonb, p_source jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    params jsonb := pg_catalog.jsonb_build_object(
        'data_source', p_data_source, 'target_column', p_target_column, 'model_name', p_model_name,
        'model_type', p_model_type, 'experiment_name', p_experiment_name, 'task', p_task,
        'hyperparams', p_hyperparams, 'min_metrics', p_min_metrics);
    steps jsonb := '[]';
    step text;
    step_status text;
    step_result jsonb;
    t0 timestamptz;
    src text;
    n_rows bigint;
    n_labelled bigint;
    n_distinct bigint;
    v_run_id bigint;
    v_version integer;
    v_metrics jsonb;
    checks jsonb := '{}';
    passed boolean := true;
    ok boolean;
    k text;
    threshold jsonb;
    actual float8;
    lower_is_better boolean;
    msg text;
    det text;
    state text;
BEGIN
    BEGIN
        -- one step an iteration; each branch leaves its status and result,
        -- recorded below, and an error leaves step naming the failing one
        FOREACH step IN ARRAY ARRAY['validate', 'train', 'evaluate', 'register', 'promote'] LOOP
            t0 := pg_catalog.clock_timestamp();
            step_status := 'succeeded';
            IF step OPERATOR(pg_catalog.=) 'validate' THEN
                IF p_data_source IS NULL OR p_target_column IS NULL OR p_model_name IS NULL THEN
                    RAISE EXCEPTION 'data_source, target_column and model_name must not be null'
                        USING ERRCODE = 'null_value_not_allowed';
                END IF;
                IF p_source OPERATOR(pg_catalog.?) 'error' THEN
                    RAISE EXCEPTION USING MESSAGE = p_source OPERATOR(pg_catalog.#>>) '{error,message}',
                        ERRCODE = p_source OPERATOR(pg_catalog.#>>) '{error,sqlstate}',
                        DETAIL = COALESCE(p_source OPERATOR(pg_catalog.#>>) '{error,detail}', ''),
                        HINT = COALESCE(p_source OPERATOR(pg_catalog.#>>) '{error,hint}', '');
                END IF;
                IF pg_catalog.lower(COALESCE(p_model_type, '')) OPERATOR(pg_catalog.<>) 'xgboost' THEN
                    RAISE EXCEPTION 'model type "%" is not supported', pg_catalog.left(p_model_type, 200)
                        USING ERRCODE = 'feature_not_supported', HINT = 'mlops trains xgboost models.';
                END IF;
                IF p_task IS NULL OR p_task OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression']) THEN
                    RAISE EXCEPTION 'task must be classification or regression'
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                IF p_hyperparams IS NULL OR pg_catalog.jsonb_typeof(p_hyperparams) OPERATOR(pg_catalog.<>) 'object' THEN
                    RAISE EXCEPTION 'hyperparams must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
                END IF;
                IF p_min_metrics IS NULL OR pg_catalog.jsonb_typeof(p_min_metrics) OPERATOR(pg_catalog.<>) 'object'
                   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(p_min_metrics) e
                               WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'number') THEN
                    RAISE EXCEPTION 'min_metrics must be a JSON object of numbers'
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'For example ''{"accuracy": 0.85}'' or ''{"rmse": 3.5}''.';
                END IF;
                IF pg_catalog.to_regprocedure('mlops.train(text,text,text,text,jsonb,text[],double precision,text,text,integer)') IS NULL THEN
                    RAISE EXCEPTION 'mlops.train is not available in this installation'
                        USING ERRCODE = 'undefined_function';
                END IF;
                src := '(' OPERATOR(pg_catalog.||) (p_source OPERATOR(pg_catalog.->>) 'query')
                       OPERATOR(pg_catalog.||) ') AS s';
                EXECUTE pg_catalog.format('SELECT pg_catalog.count(*), pg_catalog.count(%1$I), pg_catalog.count(DISTINCT %1$I) FROM %2$s',
                                          p_target_column, src)
                   INTO n_rows, n_labelled, n_distinct;
                IF n_rows OPERATOR(pg_catalog.=) 0 THEN
                    RAISE EXCEPTION 'data source % has no rows', pg_catalog.left(p_data_source, 200) USING ERRCODE = 'no_data_found';
                END IF;
                IF n_labelled OPERATOR(pg_catalog.<) n_rows THEN
                    RAISE EXCEPTION 'target column "%" has % null values', pg_catalog.left(p_target_column, 200), n_rows OPERATOR(pg_catalog.-) n_labelled
                        USING ERRCODE = 'null_value_not_allowed',
                              HINT = 'Filter them out in the data source query.';
                END IF;
                IF p_task OPERATOR(pg_catalog.=) 'classification' AND n_distinct OPERATOR(pg_catalog.<) 2 THEN
                    RAISE EXCEPTION 'target column "%" has a single class', pg_catalog.left(p_target_column, 200)
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                step_result := pg_catalog.jsonb_build_object('rows', n_rows, 'distinct_targets', n_distinct);
            ELSIF step OPERATOR(pg_catalog.=) 'train' THEN
                SELECT t.run_id, t.version, t.metrics INTO v_run_id, v_version, v_metrics
                  FROM mlops.train(p_model_name, p_data_source, p_target_column, task => p_task,
                                   hyperparams => p_hyperparams, experiment => p_experiment_name) AS t;
                step_result := pg_catalog.jsonb_build_object('run_id', v_run_id, 'version', v_version);
            ELSIF step OPERATOR(pg_catalog.=) 'evaluate' THEN
                FOR k, threshold IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_min_metrics) e ORDER BY e.key LOOP
                    IF NOT (v_metrics OPERATOR(pg_catalog.?) k) THEN
                        RAISE EXCEPTION 'training reported no metric "%"', pg_catalog.left(k, 200)
                            USING ERRCODE = 'invalid_parameter_value',
                                  DETAIL = pg_catalog.format('It reported %s.', (SELECT pg_catalog.string_agg(m, ', ' ORDER BY m)
                                                                                FROM pg_catalog.jsonb_object_keys(v_metrics) m));
                    END IF;
                    actual := (v_metrics OPERATOR(pg_catalog.->>) k)::float8;
                    lower_is_better := k OPERATOR(pg_catalog.=) ANY (ARRAY['rmse', 'mae', 'mse', 'log_loss', 'logloss', 'mlogloss', 'error']);
                    ok := CASE WHEN lower_is_better THEN actual OPERATOR(pg_catalog.<=) threshold::text::float8
                               ELSE actual OPERATOR(pg_catalog.>=) threshold::text::float8 END;
                    checks := checks OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(k, pg_catalog.jsonb_build_object(
                        'value', actual, 'threshold', threshold,
                        'rule', CASE WHEN lower_is_better THEN 'at most' ELSE 'at least' END, 'passed', ok));
                    passed := passed AND ok;
                END LOOP;
                step_result := pg_catalog.jsonb_build_object('metrics', v_metrics, 'checks', checks,
                                                             'meets_min_metrics', passed);
            ELSIF step OPERATOR(pg_catalog.=) 'register' THEN
                -- training registered the version (stage None); its time is
                -- the train step's, so this step takes none
                t0 := NULL;
                step_result := pg_catalog.jsonb_build_object('model', p_model_name, 'version', v_version);
            ELSE
                -- promote
                IF passed THEN
                    PERFORM mlops.transition_stage(p_model_name, v_version, 'Staging');
                ELSE
                    step_status := 'skipped';
                END IF;
                step_result := pg_catalog.jsonb_build_object('stage', CASE WHEN passed THEN 'Staging' ELSE 'None' END);
            END IF;
            steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', step, 'status', step_status,
                'seconds', COALESCE(EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0), 0),
                'result', step_result));
        END LOOP;

        RETURN pg_catalog.jsonb_build_object(
            'status', 'succeeded', 'parameters', params, 'steps', steps,
            'result', pg_catalog.jsonb_build_object(
                'run_id', v_run_id, 'model', p_model_name, 'version', v_version, 'metrics', v_metrics,
                'meets_min_metrics', passed, 'stage', CASE WHEN passed THEN 'Staging' ELSE 'None' END));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', step, 'status', 'failed',
            'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'error', msg));
        RETURN pg_catalog.jsonb_build_object('status', 'failed', 'parameters', params, 'steps', steps,
                                             'error', msg, 'error_detail', NULLIF(det, ''), 'sqlstate', state);
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_training_pipeline(text, text, text, text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.training_pipeline(data_source text, target_column text, model_name text,
                                        model_type text DEFAULT 'xgboost', experiment_name text DEFAULT NULL,
                                        task text DEFAULT 'classification', hyperparams jsonb DEFAULT '{}',
                                        min_metrics jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_source_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.training_pipeline(text, text, text, text, text, text, jsonb, jsonb) FROM PUBLIC;

-- data_pipeline: profile every column, check the rules, write the clean rows
-- to output_table (created, or emptied and refilled) and report rejections.
CREATE FUNCTION mlops._impl_data_pipeline(p_data_source text, p_output_table text, p_validate boolean,
                                          p_rules jsonb, p_source jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    params jsonb := pg_catalog.jsonb_build_object('data_source', p_data_source, 'output_table', p_output_table,
                                                  'validate', p_validate, 'rules', p_rules);
    steps jsonb := '[]';
    step text;
    step_status text;
    step_result jsonb;
    t0 timestamptz;
    src text;
    cols text[];
    col_list text;
    profile_sql text;
    profile jsonb;
    conds text[] := '{}';
    windows text := '';
    rule_key text;
    rule jsonb;
    c text;
    key_cols text[];
    unique_key jsonb;
    n_unique integer := 0;
    target text;
    target_parts text[];
    rel regclass;
    owner_oid oid;
    kind "char";
    pass integer;
    n_in bigint;
    n_rejected bigint;
    rejections jsonb;
    samples jsonb;
    n_written bigint;
    msg text;
    det text;
    state text;
BEGIN
    BEGIN
        -- one step an iteration, recorded like the training pipeline's steps
        FOREACH step IN ARRAY ARRAY['profile', 'validate', 'write'] LOOP
            t0 := pg_catalog.clock_timestamp();
            step_status := 'succeeded';
            IF step OPERATOR(pg_catalog.=) 'profile' THEN
                IF p_data_source IS NULL OR p_output_table IS NULL OR p_validate IS NULL THEN
                    RAISE EXCEPTION 'data_source, output_table and validate must not be null'
                        USING ERRCODE = 'null_value_not_allowed';
                END IF;
                IF p_rules IS NULL OR pg_catalog.jsonb_typeof(p_rules) OPERATOR(pg_catalog.<>) 'object' THEN
                    RAISE EXCEPTION 'rules must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'For example ''{"not_null": ["id"], "ranges": {"age": {"min": 0, "max": 120}}}''.';
                END IF;
                IF p_source OPERATOR(pg_catalog.?) 'error' THEN
                    RAISE EXCEPTION USING MESSAGE = p_source OPERATOR(pg_catalog.#>>) '{error,message}',
                        ERRCODE = p_source OPERATOR(pg_catalog.#>>) '{error,sqlstate}',
                        DETAIL = COALESCE(p_source OPERATOR(pg_catalog.#>>) '{error,detail}', ''),
                        HINT = COALESCE(p_source OPERATOR(pg_catalog.#>>) '{error,hint}', '');
                END IF;
                src := p_source OPERATOR(pg_catalog.->>) 'query';
                target_parts := pg_catalog.parse_ident(p_output_table);
                IF pg_catalog.cardinality(target_parts) OPERATOR(pg_catalog.>) 2 THEN
                    RAISE EXCEPTION 'output_table must be a table name, optionally schema-qualified'
                        USING ERRCODE = 'invalid_name',
                              DETAIL = pg_catalog.format('%s has %s parts.', pg_catalog.left(p_output_table, 200),
                                                         pg_catalog.cardinality(target_parts));
                END IF;
                IF EXISTS (SELECT 1 FROM pg_catalog.unnest(target_parts) p
                            WHERE pg_catalog.octet_length(p) OPERATOR(pg_catalog.>)
                                  pg_catalog.current_setting('max_identifier_length')::integer) THEN
                    RAISE EXCEPTION 'output_table name is too long'
                        USING ERRCODE = 'name_too_long',
                              DETAIL = pg_catalog.format('A table or schema name has at most %s bytes; "%s" is longer.',
                                                         pg_catalog.current_setting('max_identifier_length'),
                                                         pg_catalog.left(p_output_table, 200));
                END IF;
                SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p), '.')
                  INTO target FROM pg_catalog.unnest(target_parts) p;
                IF pg_catalog.to_regclass('pg_temp.mlops_pipeline_source') IS NOT NULL THEN
                    DROP VIEW pg_temp.mlops_pipeline_source CASCADE;
                END IF;
                EXECUTE 'CREATE TEMP VIEW mlops_pipeline_source AS ' OPERATOR(pg_catalog.||) src;
                SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum),
                       pg_catalog.string_agg(pg_catalog.format(
                           'pg_catalog.jsonb_build_object(%L, pg_catalog.jsonb_build_object(''type'', %L, ''count'', pg_catalog.count(%I), '
                           '''nulls'', pg_catalog.count(*) OPERATOR(pg_catalog.-) pg_catalog.count(%I)%s%s%s))',
                           a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attname, a.attname,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) ANY (ARRAY['N', 'S', 'D', 'B', 'E'])
                                THEN pg_catalog.format(', ''distinct'', pg_catalog.count(DISTINCT %I)', a.attname) ELSE '' END,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) ANY (ARRAY['N', 'S', 'D', 'E'])
                                THEN pg_catalog.format(', ''min'', pg_catalog.to_jsonb(pg_catalog.min(%1$I)), ''max'', pg_catalog.to_jsonb(pg_catalog.max(%1$I))', a.attname) ELSE '' END,
                           CASE WHEN t.typcategory OPERATOR(pg_catalog.=) 'N'
                                THEN pg_catalog.format(', ''mean'', pg_catalog.avg(%I)::float8', a.attname) ELSE '' END),
                           ' OPERATOR(pg_catalog.||) ' ORDER BY a.attnum)
                  INTO cols, profile_sql
                  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
                 WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('pg_temp.mlops_pipeline_source')
                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
                IF cols IS NULL THEN
                    RAISE EXCEPTION 'data source % has no columns', pg_catalog.left(p_data_source, 200) USING ERRCODE = 'invalid_parameter_value';
                END IF;
                EXECUTE pg_catalog.format('SELECT pg_catalog.jsonb_build_object(''rows'', pg_catalog.count(*), ''columns'', %s) FROM pg_temp.mlops_pipeline_source',
                                          profile_sql)
                   INTO profile;
                step_result := profile;
            ELSIF step OPERATOR(pg_catalog.=) 'validate' THEN
                IF p_validate THEN
                    FOR rule_key, rule IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_rules) e ORDER BY e.key LOOP
                        IF rule_key OPERATOR(pg_catalog.=) 'not_null' OR rule_key OPERATOR(pg_catalog.=) 'unique' THEN
                            IF pg_catalog.jsonb_typeof(rule) OPERATOR(pg_catalog.<>) 'array' THEN
                                RAISE EXCEPTION 'rule "%" must be an array', pg_catalog.left(rule_key, 200) USING ERRCODE = 'invalid_parameter_value',
                                    HINT = 'For example {"not_null": ["id", "age"]} or {"unique": ["id", ["a", "b"]]}.';
                            END IF;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'ranges' OR rule_key OPERATOR(pg_catalog.=) 'allowed_values' THEN
                            IF pg_catalog.jsonb_typeof(rule) OPERATOR(pg_catalog.<>) 'object' THEN
                                RAISE EXCEPTION 'rule "%" must be an object keyed by column', pg_catalog.left(rule_key, 200) USING ERRCODE = 'invalid_parameter_value',
                                    HINT = 'For example {"ranges": {"age": {"min": 0, "max": 120}}} or {"allowed_values": {"plan": ["basic", "pro"]}}.';
                            END IF;
                        ELSE
                            RAISE EXCEPTION 'unknown rule "%"', pg_catalog.left(rule_key, 200) USING ERRCODE = 'invalid_parameter_value',
                                HINT = 'The rules are not_null, ranges, allowed_values and unique.';
                        END IF;
                        -- every column a rule names must exist
                        FOR c IN SELECT x FROM (
                                SELECT pg_catalog.jsonb_array_elements_text(rule) AS x
                                 WHERE rule_key OPERATOR(pg_catalog.=) 'not_null'
                                UNION ALL
                                SELECT pg_catalog.jsonb_object_keys(rule)
                                 WHERE rule_key OPERATOR(pg_catalog.=) ANY (ARRAY['ranges', 'allowed_values'])
                                UNION ALL
                                SELECT k.x
                                  FROM pg_catalog.jsonb_array_elements(CASE WHEN rule_key OPERATOR(pg_catalog.=) 'unique' THEN rule ELSE '[]' END) u,
                                       LATERAL pg_catalog.jsonb_array_elements_text(
                                           CASE WHEN pg_catalog.jsonb_typeof(u) OPERATOR(pg_catalog.=) 'array' THEN u
                                                ELSE pg_catalog.jsonb_build_array(u) END) k(x)
                            ) names LOOP
                            IF NOT c OPERATOR(pg_catalog.=) ANY (cols) THEN
                                RAISE EXCEPTION 'rule "%" names column "%", which the data source does not have', rule_key, pg_catalog.left(c, 200)
                                    USING ERRCODE = 'undefined_column',
                                          DETAIL = pg_catalog.format('Its columns are %s%s.', pg_catalog.array_to_string(cols[1:20], ', '),
                                                                     CASE WHEN pg_catalog.cardinality(cols) OPERATOR(pg_catalog.>) 20
                                                                          THEN pg_catalog.format(' and %s more', pg_catalog.cardinality(cols) OPERATOR(pg_catalog.-) 20)
                                                                          ELSE '' END);
                            END IF;
                        END LOOP;
                        IF rule_key OPERATOR(pg_catalog.=) 'not_null' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %I IS NULL THEN %L END', x, 'not_null:' OPERATOR(pg_catalog.||) x))
                              INTO conds FROM pg_catalog.jsonb_array_elements_text(rule) x;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'ranges' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %s OR %s THEN %L END',
                                       CASE WHEN r.value OPERATOR(pg_catalog.?) 'min'
                                            THEN pg_catalog.format('%I OPERATOR(pg_catalog.<) %L', r.key, r.value OPERATOR(pg_catalog.->>) 'min') ELSE 'false' END,
                                       CASE WHEN r.value OPERATOR(pg_catalog.?) 'max'
                                            THEN pg_catalog.format('%I OPERATOR(pg_catalog.>) %L', r.key, r.value OPERATOR(pg_catalog.->>) 'max') ELSE 'false' END,
                                       'range:' OPERATOR(pg_catalog.||) r.key))
                              INTO conds FROM pg_catalog.jsonb_each(rule) r;
                        ELSIF rule_key OPERATOR(pg_catalog.=) 'allowed_values' THEN
                            SELECT conds OPERATOR(pg_catalog.||) pg_catalog.array_agg(pg_catalog.format(
                                       'CASE WHEN %I::text OPERATOR(pg_catalog.<>) ALL (%L::text[]) THEN %L END',
                                       r.key, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(r.value)),
                                       'allowed_values:' OPERATOR(pg_catalog.||) r.key))
                              INTO conds FROM pg_catalog.jsonb_each(rule) r;
                        ELSE
                            FOR unique_key IN SELECT u FROM pg_catalog.jsonb_array_elements(rule) u LOOP
                                IF pg_catalog.jsonb_typeof(unique_key) OPERATOR(pg_catalog.=) 'array' THEN
                                    key_cols := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(unique_key));
                                ELSE
                                    key_cols := ARRAY[unique_key OPERATOR(pg_catalog.#>>) '{}'];
                                END IF;
                                n_unique := n_unique OPERATOR(pg_catalog.+) 1;
                                windows := windows OPERATOR(pg_catalog.||) pg_catalog.format(
                                    ', pg_catalog.count(*) OVER (PARTITION BY %s) AS _mlops_u%s',
                                    (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') FROM pg_catalog.unnest(key_cols) x),
                                    n_unique);
                                conds := conds OPERATOR(pg_catalog.||) pg_catalog.format(
                                    'CASE WHEN _mlops_u%s OPERATOR(pg_catalog.>) 1 AND %s THEN %L END', n_unique,
                                    (SELECT pg_catalog.string_agg(pg_catalog.format('%I IS NOT NULL', x), ' AND ') FROM pg_catalog.unnest(key_cols) x),
                                    'unique:' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(key_cols, ','));
                            END LOOP;
                        END IF;
                    END LOOP;
                END IF;
                SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ') INTO col_list FROM pg_catalog.unnest(cols) x;
                EXECUTE pg_catalog.format(
                    'CREATE TEMP VIEW mlops_pipeline_checked AS SELECT %s, pg_catalog.array_remove(ARRAY[%s]::text[], NULL) AS _mlops_reasons '
                    'FROM (SELECT s.*%s FROM pg_temp.mlops_pipeline_source s) s',
                    col_list, pg_catalog.array_to_string(conds, ', '), windows);
                EXECUTE 'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.>) 0) '
                        'FROM pg_temp.mlops_pipeline_checked'
                   INTO n_in, n_rejected;
                EXECUTE 'SELECT COALESCE(pg_catalog.jsonb_object_agg(r, n), ''{}'') FROM (SELECT r, pg_catalog.count(*) AS n '
                        'FROM pg_temp.mlops_pipeline_checked, pg_catalog.unnest(_mlops_reasons) r GROUP BY r) x'
                   INTO rejections;
                EXECUTE 'SELECT COALESCE(pg_catalog.jsonb_agg(x), ''[]'') FROM (SELECT pg_catalog.to_jsonb(c) OPERATOR(pg_catalog.-) ''_mlops_reasons'' AS "row", '
                        'c._mlops_reasons AS reasons FROM pg_temp.mlops_pipeline_checked c '
                        'WHERE pg_catalog.cardinality(c._mlops_reasons) OPERATOR(pg_catalog.>) 0 LIMIT 5) x'
                   INTO samples;
                IF NOT p_validate THEN
                    step_status := 'skipped';
                END IF;
                step_result := pg_catalog.jsonb_build_object('rows_checked', n_in, 'rows_rejected', n_rejected,
                                                             'rejections', rejections, 'rejected_samples', samples);
            ELSE
                -- write: pipelines writing the same table name take turns
                -- (an unqualified name is created in current_schema())
                PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
                    'mlops.data_pipeline output ' OPERATOR(pg_catalog.||)
                    CASE WHEN pg_catalog.cardinality(target_parts) OPERATOR(pg_catalog.=) 1
                         THEN pg_catalog.quote_ident(pg_catalog.current_schema()) OPERATOR(pg_catalog.||) '.'
                         ELSE '' END OPERATOR(pg_catalog.||) target, 0));
                rel := pg_catalog.to_regclass(target);
                IF rel IS NULL THEN
                    BEGIN
                        EXECUTE pg_catalog.format('CREATE TABLE %s AS SELECT %s FROM pg_temp.mlops_pipeline_checked '
                                                  'WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.=) 0',
                                                  target, col_list);
                        GET DIAGNOSTICS n_written = ROW_COUNT;
                    EXCEPTION WHEN duplicate_table OR unique_violation THEN
                        RAISE EXCEPTION 'output table % was created by another session while the pipeline ran', target
                            USING ERRCODE = 'duplicate_table',
                                  HINT = 'Run the pipeline again: it refills an existing table that you own.';
                    END;
                ELSE
                    -- only a table the caller owns (or whose owner it is a member of)
                    SELECT c.relowner, c.relkind, pg_catalog.format('%I.%I', n.nspname, c.relname)
                      INTO owner_oid, kind, target
                      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                     WHERE c.oid OPERATOR(pg_catalog.=) rel;
                    IF kind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
                        RAISE EXCEPTION 'output table % is not a table', target
                            USING ERRCODE = 'wrong_object_type',
                                  HINT = 'Name a new table, which the pipeline creates, or a table you own.';
                    END IF;
                    -- pass 1 checks at once (a clear error, no wait for another
                    -- role's lock); pass 2 after locking the table, when what the
                    -- name stands for and its owner can no longer change
                    FOR pass IN 1 .. 2 LOOP
                        IF pass OPERATOR(pg_catalog.=) 2 THEN
                            EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', target);
                            SELECT c.relowner INTO owner_oid FROM pg_catalog.pg_class c
                             WHERE c.oid OPERATOR(pg_catalog.=) rel
                               AND pg_catalog.to_regclass(target) OPERATOR(pg_catalog.=) rel;
                            IF NOT FOUND THEN
                                RAISE EXCEPTION 'output table % was replaced by another session while the pipeline ran', target
                                    USING ERRCODE = 'object_not_in_prerequisite_state',
                                          HINT = 'Run the pipeline again.';
                            END IF;
                        END IF;
                        IF NOT EXISTS (WITH RECURSIVE m (r) AS (
                                           SELECT a.oid FROM pg_catalog.pg_roles a
                                            WHERE a.rolname OPERATOR(pg_catalog.=) CURRENT_USER
                                           UNION
                                           SELECT am.roleid FROM pg_catalog.pg_auth_members am
                                             JOIN m ON am.member OPERATOR(pg_catalog.=) m.r)
                                       SELECT 1 FROM m WHERE m.r OPERATOR(pg_catalog.=) owner_oid) THEN
                            RAISE EXCEPTION 'permission denied to write output table %', target
                                USING ERRCODE = 'insufficient_privilege',
                                      DETAIL = pg_catalog.format('The table is owned by role "%s". A pipeline writes only '
                                                                 'into a table it creates or one whose owner you are or '
                                                                 'belong to, since the table''s triggers run with your rights.',
                                                                 pg_catalog.pg_get_userbyid(owner_oid)),
                                      HINT = 'Name a new table, which the pipeline creates, or act as the table''s owner (SET ROLE).';
                        END IF;
                    END LOOP;
                    -- the clean rows are kept aside first: the source may read
                    -- the very table that is emptied
                    EXECUTE pg_catalog.format('CREATE TEMP TABLE mlops_pipeline_clean AS SELECT %s '
                                              'FROM pg_temp.mlops_pipeline_checked '
                                              'WHERE pg_catalog.cardinality(_mlops_reasons) OPERATOR(pg_catalog.=) 0',
                                              col_list);
                    EXECUTE pg_catalog.format('TRUNCATE %s', target);
                    EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM pg_temp.mlops_pipeline_clean',
                                              target, col_list, col_list);
                    GET DIAGNOSTICS n_written = ROW_COUNT;
                    DROP TABLE pg_temp.mlops_pipeline_clean;
                END IF;
                DROP VIEW pg_temp.mlops_pipeline_checked;
                DROP VIEW pg_temp.mlops_pipeline_source;
                step_result := pg_catalog.jsonb_build_object('output_table', target, 'rows_written', n_written);
            END IF;
            steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', step, 'status', step_status,
                'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                'result', step_result));
        END LOOP;

        RETURN pg_catalog.jsonb_build_object(
            'status', 'succeeded', 'parameters', params, 'steps', steps,
            'result', pg_catalog.jsonb_build_object(
                'rows_in', n_in, 'rows_written', n_written, 'rows_rejected', n_rejected,
                'rejections', rejections, 'rejected_samples', samples, 'output_table', target,
                'profile', profile));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', step, 'status', 'failed',
            'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'error', msg));
        RETURN pg_catalog.jsonb_build_object('status', 'failed', 'parameters', params, 'steps', steps,
                                             'error', msg, 'error_detail', NULLIF(det, ''), 'sqlstate', state);
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_data_pipeline(text, text, boolean, jsonb, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.data_pipeline(data_source text, output_table text, validate boolean DEFAULT true,
                                    rules jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_source_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.data_pipeline(text, text, boolean, jsonb) FROM PUBLIC;
