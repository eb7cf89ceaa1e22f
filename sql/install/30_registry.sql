-- Model registry: models, their versions with stages, and aliases, as in
-- MLflow's registry.  Model references ('churn', 'churn/3', 'churn/Staging',
-- 'churn/latest', 'churn@champion') are resolved by mlops.resolve_model.
--
-- Ownership (docs/security.md#ownership): a model has an owner, the role
-- that registered its first version; its versions and aliases are the
-- model's.  Every change (a new version, by training or import, a stage
-- transition, an alias set or dropped, a version dropped) locks the model
-- and requires that the actor be a member of its owner (_model_for_update).

CREATE TABLE mlops.models (
    model_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    description text,
    tags        jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL,
    owner       regrole NOT NULL
);
REVOKE ALL ON mlops.models FROM PUBLIC;

CREATE TABLE mlops.model_versions (
    model_id      bigint NOT NULL REFERENCES mlops.models (model_id),
    version       integer NOT NULL CHECK (version OPERATOR(pg_catalog.>) 0),
    stage         text NOT NULL DEFAULT 'None'
                  CHECK (stage OPERATOR(pg_catalog.=) ANY (ARRAY['None', 'Staging', 'Production', 'Archived'])),
    run_id        bigint REFERENCES mlops.runs (run_id),
    task          text CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression', 'ranking', 'survival', 'other'])),
    algorithm     text NOT NULL DEFAULT 'xgboost',
    feature_names text[],
    input_schema  jsonb,
    metrics       jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(metrics) OPERATOR(pg_catalog.=) 'object'),
    params        jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
    tags          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    model_format  text NOT NULL DEFAULT 'json' CHECK (model_format OPERATOR(pg_catalog.=) 'json'),
    model_data    bytea NOT NULL,
    model_size    bigint NOT NULL,
    model_sha256  bytea NOT NULL CHECK (pg_catalog.length(model_sha256) OPERATOR(pg_catalog.=) 32),
    stage_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by    name NOT NULL,
    PRIMARY KEY (model_id, version)
);
-- At most one Production version per model, enforced by the schema.
CREATE UNIQUE INDEX model_versions_one_production ON mlops.model_versions (model_id)
    WHERE stage OPERATOR(pg_catalog.=) 'Production';
ALTER TABLE mlops.model_versions ALTER COLUMN model_data SET STORAGE EXTERNAL;
REVOKE ALL ON mlops.model_versions FROM PUBLIC;

CREATE TABLE mlops.model_aliases (
    model_id   bigint NOT NULL,
    alias      text NOT NULL CHECK (alias OPERATOR(pg_catalog.~) '^[A-Za-z_][A-Za-z0-9_-]{0,63}$'),
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES mlops.model_versions (model_id, version) ON DELETE CASCADE
);
REVOKE ALL ON mlops.model_aliases FROM PUBLIC;

-- Every change to the registry invalidates the model caches of all
-- backends when its transaction commits (see src/registry.c).
CREATE FUNCTION mlops._registry_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops_registry_changed';
REVOKE ALL ON FUNCTION mlops._registry_changed() FROM PUBLIC;
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.models
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();
CREATE TRIGGER model_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();
CREATE TRIGGER model_aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.model_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();

-- _canonical_stage maps a stage name, in any case, to its stored spelling.
CREATE FUNCTION mlops._canonical_stage(stage text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s text := CASE pg_catalog.lower(stage)
                  WHEN 'none' THEN 'None' WHEN 'staging' THEN 'Staging'
                  WHEN 'production' THEN 'Production' WHEN 'archived' THEN 'Archived' END;
BEGIN
    IF s IS NULL THEN
        RAISE EXCEPTION 'invalid stage %', COALESCE(mlops._clip(pg_catalog.quote_literal(stage)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Stages are None, Staging, Production and Archived (in any case).';
    END IF;
    RETURN s;
END
$$;
REVOKE ALL ON FUNCTION mlops._canonical_stage(text) FROM PUBLIC;

-- _model_for_update locks a model by name to change it (serialising version
-- numbering and stage transitions per model), checks that the actor may
-- change it (a member of its owner), and returns its id.
CREATE FUNCTION mlops._model_for_update(model_name text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
    owner regrole;
BEGIN
    SELECT m.model_id, m.owner INTO id, owner FROM mlops.models m
     WHERE m.name OPERATOR(pg_catalog.=) model_name FOR UPDATE;
    IF id IS NULL THEN
        RAISE EXCEPTION 'model "%" does not exist', mlops._clip(model_name)
            USING ERRCODE = 'undefined_object',
                  HINT = mlops._models_hint();
    END IF;
    PERFORM mlops._require_owner('model', model_name, owner);
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._model_for_update(text) FROM PUBLIC;

-- _models_hint lists some existing models, for error hints.
CREATE FUNCTION mlops._models_hint() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE('Existing models: ' OPERATOR(pg_catalog.||)
                    NULLIF(mlops._list(ARRAY(SELECT m.name FROM mlops.models m ORDER BY m.name)), '')
                    OPERATOR(pg_catalog.||) '.',
                    'No model is registered yet; train one with mlops.train() or import one with mlops.import_model().')
$$;
REVOKE ALL ON FUNCTION mlops._models_hint() FROM PUBLIC;

-- _versions_hint describes what a model has, for error hints.
CREATE FUNCTION mlops._versions_hint(p_model_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.format('It has %s.',
               COALESCE('versions ' OPERATOR(pg_catalog.||) NULLIF(mlops._list(ARRAY(
                            SELECT v.version OPERATOR(pg_catalog.||) ' (' OPERATOR(pg_catalog.||) v.stage OPERATOR(pg_catalog.||) ')'
                              FROM mlops.model_versions v WHERE v.model_id OPERATOR(pg_catalog.=) p_model_id
                             ORDER BY v.version)), ''),
                        'no versions')
               OPERATOR(pg_catalog.||)
               COALESCE(' and aliases ' OPERATOR(pg_catalog.||) NULLIF(mlops._list(ARRAY(
                            SELECT a.alias OPERATOR(pg_catalog.||) ' -> ' OPERATOR(pg_catalog.||) a.version
                              FROM mlops.model_aliases a WHERE a.model_id OPERATOR(pg_catalog.=) p_model_id
                             ORDER BY a.alias)), ''),
                        ''))
$$;
REVOKE ALL ON FUNCTION mlops._versions_hint(bigint) FROM PUBLIC;

-- resolve_model turns a model reference into one model version.
CREATE FUNCTION mlops.resolve_model(model text)
    RETURNS TABLE(model_id bigint, name text, version integer, stage text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    model_name text;
    spec text;
    kind text;
    mid bigint;
    v integer;
    st text;
BEGIN
    IF model IS NULL OR model OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'model reference must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''name'', ''name/3'', ''name/Staging'', ''name/latest'' or ''name@alias''.';
    END IF;
    IF pg_catalog.strpos(model, '@') OPERATOR(pg_catalog.>) 0 THEN
        model_name := pg_catalog.split_part(model, '@', 1);
        spec := pg_catalog.substr(model, pg_catalog.strpos(model, '@') OPERATOR(pg_catalog.+) 1);
        kind := 'alias';
    ELSIF pg_catalog.strpos(model, '/') OPERATOR(pg_catalog.>) 0 THEN
        model_name := pg_catalog.split_part(model, '/', 1);
        spec := pg_catalog.substr(model, pg_catalog.strpos(model, '/') OPERATOR(pg_catalog.+) 1);
        IF spec OPERATOR(pg_catalog.~) '^[0-9]{1,9}$' THEN
            kind := 'version';
        ELSIF pg_catalog.lower(spec) OPERATOR(pg_catalog.=) 'latest' THEN
            kind := 'latest';
        ELSIF pg_catalog.lower(spec) OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'staging', 'production', 'archived']) THEN
            kind := 'stage';
            spec := mlops._canonical_stage(spec);
        ELSE
            RAISE EXCEPTION 'invalid model reference "%"', mlops._clip(model)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('"%s" is neither a version number, "latest", nor a stage.', mlops._clip(spec)),
                      HINT = 'Use ''name'', ''name/3'', ''name/Staging'', ''name/latest'' or ''name@alias''.';
        END IF;
    ELSE
        model_name := model;
        spec := 'Production';
        kind := 'default';
    END IF;

    SELECT m.model_id INTO mid FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) model_name;
    IF mid IS NULL THEN
        RAISE EXCEPTION 'model "%" does not exist', mlops._clip(model_name)
            USING ERRCODE = 'undefined_object', HINT = mlops._models_hint();
    END IF;

    IF kind OPERATOR(pg_catalog.=) 'alias' THEN
        SELECT a.version INTO v FROM mlops.model_aliases a
         WHERE a.model_id OPERATOR(pg_catalog.=) mid AND a.alias OPERATOR(pg_catalog.=) spec;
    ELSIF kind OPERATOR(pg_catalog.=) 'version' THEN
        SELECT mv.version INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) spec::integer;
    ELSIF kind OPERATOR(pg_catalog.=) 'latest' THEN
        SELECT pg_catalog.max(mv.version) INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid;
    ELSE
        -- the newest version in that stage (Production has at most one)
        SELECT pg_catalog.max(mv.version) INTO v FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.stage OPERATOR(pg_catalog.=) spec;
    END IF;

    IF v IS NULL THEN
        RAISE EXCEPTION 'model reference "%" does not resolve to a version', mlops._clip(model)
            USING ERRCODE = 'undefined_object',
                  DETAIL = CASE kind
                      WHEN 'alias' THEN pg_catalog.format('Model "%s" has no alias "%s".', model_name, mlops._clip(spec))
                      WHEN 'version' THEN pg_catalog.format('Model "%s" has no version %s.', model_name, spec)
                      WHEN 'latest' THEN pg_catalog.format('Model "%s" has no versions.', model_name)
                      ELSE pg_catalog.format('Model "%s" has no version in stage %s.', model_name, spec) END,
                  HINT = mlops._versions_hint(mid);
    END IF;

    SELECT mv.stage INTO st FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) v;
    RETURN QUERY SELECT mid, model_name, v, st;
END
$$;
REVOKE ALL ON FUNCTION mlops.resolve_model(text) FROM PUBLIC;

-- _register_model_version stores a new version (stage None) of a model,
-- creating the model (owned by the actor) when needed; adding a version to
-- an existing model requires that the actor may change it.  Internal:
-- training and import_model call it as the extension owner; the bytes must
-- already be validated.
CREATE FUNCTION mlops._register_model_version(name text, model_data bytea, run_id bigint, task text,
                                              algorithm text, feature_names text[], input_schema jsonb,
                                              metrics jsonb, params jsonb, tags jsonb)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    mid bigint;
    v integer;
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid model name %', COALESCE(mlops._clip(pg_catalog.quote_literal(name)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Model names are 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".',
                  HINT = 'The characters "/" and "@" are reserved for model references such as ''churn/3'' and ''churn@champion''.';
    END IF;
    IF model_data IS NULL OR pg_catalog.length(model_data) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'model must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task IS NOT NULL AND task OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression', 'ranking', 'survival', 'other']) THEN
        RAISE EXCEPTION 'invalid task %', mlops._clip(pg_catalog.quote_literal(task))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Tasks are classification, regression, ranking, survival and other.';
    END IF;
    PERFORM mlops._require_object(COALESCE(metrics, '{}'), 'metrics');
    PERFORM mlops._require_object(COALESCE(params, '{}'), 'params');
    PERFORM mlops._require_object(COALESCE(tags, '{}'), 'tags');

    -- a new model is the actor's; a new version of an existing one needs its owner
    INSERT INTO mlops.models (name, created_by, owner)
    VALUES (name, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
    ON CONFLICT DO NOTHING;
    mid := mlops._model_for_update(name);
    SELECT COALESCE(pg_catalog.max(mv.version), 0) OPERATOR(pg_catalog.+) 1 INTO v
      FROM mlops.model_versions mv WHERE mv.model_id OPERATOR(pg_catalog.=) mid;
    INSERT INTO mlops.model_versions (model_id, version, run_id, task, algorithm, feature_names, input_schema,
                                      metrics, params, tags, model_data, model_size, model_sha256, created_by)
    VALUES (mid, v, run_id, task, COALESCE(algorithm, 'xgboost'), feature_names, input_schema,
            COALESCE(metrics, '{}'), COALESCE(params, '{}'), COALESCE(tags, '{}'),
            model_data, pg_catalog.length(model_data), pg_catalog.sha256(model_data), mlops.current_actor());
    PERFORM mlops._audit_event('model.register', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) v,
                               pg_catalog.jsonb_build_object('model', name, 'version', v, 'run_id', run_id,
                                   'task', task, 'size', pg_catalog.length(model_data),
                                   'sha256', pg_catalog.encode(pg_catalog.sha256(model_data), 'hex')));
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION mlops._register_model_version(text, bytea, bigint, text, text, text[], jsonb, jsonb, jsonb, jsonb) FROM PUBLIC;

-- _version_for_update locks a model to change it (see _model_for_update)
-- and checks that the version exists.
CREATE FUNCTION mlops._version_for_update(model_name text, p_version integer)
    RETURNS mlops.model_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    mid bigint := mlops._model_for_update(model_name);
    r mlops.model_versions;
BEGIN
    SELECT * INTO r FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.version OPERATOR(pg_catalog.=) p_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no version %', mlops._clip(model_name), COALESCE(p_version::text, 'NULL')
            USING ERRCODE = 'undefined_object', HINT = mlops._versions_hint(mid);
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION mlops._version_for_update(text, integer) FROM PUBLIC;

-- transition_stage moves a version to a stage; with archive_existing, the
-- versions already in that stage (Staging or Production) move to Archived.
CREATE FUNCTION mlops._impl_transition_stage(name text, version integer, stage text, archive_existing boolean)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    target text := mlops._canonical_stage(stage);
    r mlops.model_versions := mlops._version_for_update(name, version);
    archived integer[];
    holder integer;
BEGIN
    IF r.stage OPERATOR(pg_catalog.=) target THEN
        RETURN;
    END IF;
    IF target OPERATOR(pg_catalog.=) ANY (ARRAY['Staging', 'Production']) THEN
        IF COALESCE(archive_existing, true) THEN
            WITH moved AS (
                UPDATE mlops.model_versions mv SET stage = 'Archived', stage_changed_at = pg_catalog.now()
                 WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.stage OPERATOR(pg_catalog.=) target
                 RETURNING mv.version)
            SELECT pg_catalog.array_agg(moved.version ORDER BY moved.version) INTO archived FROM moved;
        ELSIF target OPERATOR(pg_catalog.=) 'Production' THEN
            SELECT mv.version INTO holder FROM mlops.model_versions mv
             WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.stage OPERATOR(pg_catalog.=) 'Production';
            IF holder IS NOT NULL THEN
                RAISE EXCEPTION 'model "%" already has a Production version', mlops._clip(name)
                    USING ERRCODE = 'unique_violation',
                          DETAIL = pg_catalog.format('Version %s is in Production.', holder),
                          HINT = 'Pass archive_existing => true to archive it, or move it out of Production first.';
            END IF;
        END IF;
    END IF;
    UPDATE mlops.model_versions mv SET stage = target, stage_changed_at = pg_catalog.now()
     WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.version OPERATOR(pg_catalog.=) r.version;
    PERFORM mlops._audit_event('model.transition', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) version,
                               pg_catalog.jsonb_build_object('model', name, 'version', version, 'from', r.stage,
                                   'to', target, 'archived_versions', COALESCE(archived, '{}')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_transition_stage(text, integer, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.transition_stage(name text, version integer, stage text, archive_existing boolean DEFAULT true)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.transition_stage(text, integer, text, boolean) FROM PUBLIC;

-- _check_alias refuses a malformed or over-long alias.
CREATE FUNCTION mlops._check_alias(alias text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF alias IS NULL OR alias OPERATOR(pg_catalog.!~) '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' THEN
        RAISE EXCEPTION 'invalid alias %', COALESCE(mlops._clip(pg_catalog.quote_literal(alias)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Aliases are 1 to 64 letters, digits, "_" or "-", starting with a letter or "_".',
                  HINT = 'Use names such as champion or challenger.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_alias(text) FROM PUBLIC;

-- set_alias points an alias at a version (moving it if it exists).  Stage
-- names and "latest" are reserved: 'm@Production' must not mean something
-- else than 'm/Production'.
CREATE FUNCTION mlops._impl_set_alias(name text, alias text, version integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.model_versions;
    previous integer;
BEGIN
    PERFORM mlops._check_alias(alias);
    IF pg_catalog.lower(alias) OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'staging', 'production', 'archived', 'latest']) THEN
        RAISE EXCEPTION 'alias "%" is reserved', alias
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The stage names None, Staging, Production and Archived, and latest, in any case, are not aliases.',
                  HINT = 'Use names such as champion or challenger; move a version to a stage with mlops.transition_stage().';
    END IF;
    r := mlops._version_for_update(name, version);
    SELECT a.version INTO previous FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) r.model_id AND a.alias OPERATOR(pg_catalog.=) alias;
    INSERT INTO mlops.model_aliases AS a (model_id, alias, version) VALUES (r.model_id, alias, version)
    ON CONFLICT ON CONSTRAINT model_aliases_pkey
       DO UPDATE SET version = EXCLUDED.version, updated_at = pg_catalog.now();
    PERFORM mlops._audit_event('model.alias', 'model', name,
                               pg_catalog.jsonb_build_object('model', name, 'alias', alias, 'version', version,
                                                             'previous_version', previous));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_alias(text, text, integer) FROM PUBLIC;
CREATE FUNCTION mlops.set_alias(name text, alias text, version integer)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_alias(text, text, integer) FROM PUBLIC;

-- drop_alias removes an alias.
CREATE FUNCTION mlops._impl_drop_alias(name text, alias text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    mid bigint;
    previous integer;
BEGIN
    PERFORM mlops._check_alias(alias);
    mid := mlops._model_for_update(name);
    DELETE FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) mid AND a.alias OPERATOR(pg_catalog.=) alias
    RETURNING a.version INTO previous;
    IF previous IS NULL THEN
        RAISE EXCEPTION 'model "%" has no alias "%"', mlops._clip(name), alias
            USING ERRCODE = 'undefined_object', HINT = mlops._versions_hint(mid);
    END IF;
    PERFORM mlops._audit_event('model.alias_delete', 'model', name,
                               pg_catalog.jsonb_build_object('model', name, 'alias', alias, 'previous_version', previous));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_alias(text, text) FROM PUBLIC;
CREATE FUNCTION mlops.drop_alias(name text, alias text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_alias(text, text) FROM PUBLIC;

-- drop_model_version deletes a version that is not in Production (its aliases go with it).
CREATE FUNCTION mlops._impl_drop_model_version(name text, version integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.model_versions := mlops._version_for_update(name, version);
    aliases text[];
    deployment bigint;
BEGIN
    IF r.stage OPERATOR(pg_catalog.=) 'Production' THEN
        RAISE EXCEPTION 'cannot drop version % of model "%" because it is in Production', version, mlops._clip(name)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Move it to another stage with mlops.transition_stage() first.';
    END IF;
    -- predictions route to both versions of a pending or active deployment
    SELECT d.id INTO deployment FROM mlops.deployments d
     WHERE d.model_id OPERATOR(pg_catalog.=) r.model_id AND d.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active'])
       AND r.version OPERATOR(pg_catalog.=) ANY (ARRAY[d.from_version, d.to_version]);
    IF deployment IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop version % of model "%" because deployment % uses it', version, mlops._clip(name), deployment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'End the deployment with mlops.promote_deployment() or mlops.rollback() first.';
    END IF;
    SELECT pg_catalog.array_agg(a.alias ORDER BY a.alias) INTO aliases FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) r.model_id AND a.version OPERATOR(pg_catalog.=) r.version;
    DELETE FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.version OPERATOR(pg_catalog.=) r.version;
    PERFORM mlops._audit_event('model.delete', 'model_version', name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) version,
                               pg_catalog.jsonb_build_object('model', name, 'version', version, 'stage', r.stage,
                                   'sha256', pg_catalog.encode(r.model_sha256, 'hex'),
                                   'deleted_aliases', COALESCE(aliases, '{}')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_model_version(text, integer) FROM PUBLIC;
CREATE FUNCTION mlops.drop_model_version(name text, version integer)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_model_version(text, integer) FROM PUBLIC;

-- _model_lineage: the training set a model version was trained on (the
-- feature store, sql/install/65_features.sql), shown by model_info under
-- "lineage"; NULL when it was trained on anything else.  PL/pgSQL because
-- the tables it reads are created later in the install script.
CREATE FUNCTION mlops._model_lineage(p_model_id bigint, p_version integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN (SELECT pg_catalog.jsonb_build_object(
                       'training_set', t.name, 'training_set_id', t.training_set_id,
                       'features', pg_catalog.to_jsonb(t.features),
                       'feature_set_versions', t.feature_set_versions,
                       'row_count', t.row_count, 'created_at', t.created_at)
              FROM mlops.model_lineage l
              JOIN mlops.training_sets t ON t.training_set_id OPERATOR(pg_catalog.=) l.training_set_id
             WHERE l.model_id OPERATOR(pg_catalog.=) p_model_id AND l.version OPERATOR(pg_catalog.=) p_version);
END
$$;
REVOKE ALL ON FUNCTION mlops._model_lineage(bigint, integer) FROM PUBLIC;

-- model_info: what an inference service's /model/info returns, with the
-- model's owner and the fingerprint of the data it was trained on (null for
-- imported models and versions trained before 0.2.0).
CREATE FUNCTION mlops.model_info(model text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'name', r.name, 'version', v.version, 'stage', v.stage, 'task', v.task,
               'algorithm', v.algorithm, 'metrics', v.metrics, 'params', v.params, 'tags', v.tags,
               'run_id', v.run_id, 'feature_names', pg_catalog.to_jsonb(v.feature_names),
               'aliases', COALESCE((SELECT pg_catalog.jsonb_agg(a.alias ORDER BY a.alias) FROM mlops.model_aliases a
                                     WHERE a.model_id OPERATOR(pg_catalog.=) v.model_id
                                       AND a.version OPERATOR(pg_catalog.=) v.version), '[]'::jsonb),
               'model_format', v.model_format, 'model_size', v.model_size,
               'sha256', pg_catalog.encode(v.model_sha256, 'hex'),
               'created_at', v.created_at, 'created_by', v.created_by, 'owner', m.owner::pg_catalog.text,
               'stage_changed_at', v.stage_changed_at,
               'lineage', mlops._model_lineage(v.model_id, v.version),
               'data', v.input_schema OPERATOR(pg_catalog.->) 'data')
      FROM mlops.resolve_model($1) r
      JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) r.model_id
      JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) r.model_id
                                 AND v.version OPERATOR(pg_catalog.=) r.version
$$;
REVOKE ALL ON FUNCTION mlops.model_info(text) FROM PUBLIC;

-- model_schema: what an inference service's /model/schema returns.  The
-- categories of a categorical feature are values of the training data, which
-- the caller may not be allowed to read: only members of the model's owner
-- (and of the extension owner) see them; everyone sees each feature's name,
-- type and, for a categorical one, its number of categories (n_categories).
-- The label's classes, which predict_label returns to every caller, are
-- shown to all.
CREATE FUNCTION mlops._impl_model_schema(model text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'name', r.name, 'version', v.version, 'task', v.task,
               'features', CASE
                   WHEN v.input_schema OPERATOR(pg_catalog.?) 'features' THEN
                       (SELECT pg_catalog.jsonb_agg(
                                   CASE WHEN f OPERATOR(pg_catalog.?) 'categories' THEN
                                            (CASE WHEN mlops._may_change(m.owner) THEN f
                                                  ELSE f OPERATOR(pg_catalog.-) 'categories' END)
                                            OPERATOR(pg_catalog.-) 'stats'
                                            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('n_categories',
                                                pg_catalog.jsonb_array_length(f OPERATOR(pg_catalog.->) 'categories'))
                                        ELSE f OPERATOR(pg_catalog.-) 'stats' END
                                   ORDER BY i)
                          FROM pg_catalog.jsonb_array_elements(v.input_schema OPERATOR(pg_catalog.->) 'features')
                               WITH ORDINALITY AS e(f, i))
                   ELSE
                       COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', n, 'type', 'float') ORDER BY i)
                                   FROM pg_catalog.unnest(v.feature_names) WITH ORDINALITY AS u(n, i)), '[]'::jsonb)
                   END,
               'label', v.input_schema OPERATOR(pg_catalog.->) 'label')
      FROM mlops.resolve_model($1) r
      JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) r.model_id
      JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) r.model_id
                                 AND v.version OPERATOR(pg_catalog.=) r.version
$$;
REVOKE ALL ON FUNCTION mlops._impl_model_schema(text) FROM PUBLIC;
CREATE FUNCTION mlops.model_schema(model text) RETURNS jsonb
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.model_schema(text) FROM PUBLIC;
