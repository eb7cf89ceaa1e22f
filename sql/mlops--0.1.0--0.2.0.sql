-- mlops 0.1.0 -> 0.2.0 (ALTER EXTENSION mlops UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0, in the order the install pieces (sql/install/) make them; a fresh
-- 0.2.0 install and an updated 0.1.0 database must end up with the same schema (test/t/005_upgrade.pl
-- compares their pg_dump --schema-only).  What changed for users is in CHANGELOG.md.
\echo Use "ALTER EXTENSION mlops UPDATE TO '0.2.0'" to load this file. \quit

-- ==== common: sources, settings, security ====


-- ==== registry and model import ====
-- 0.2.0 names (CONTRIBUTING.md): removal verbs are drop_*, a model reference argument is model.
DROP FUNCTION mlops.resolve_model(text);
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
            RAISE EXCEPTION 'invalid model reference "%"', model
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('"%s" is neither a version number, "latest", nor a stage.', spec),
                      HINT = 'Use ''name'', ''name/3'', ''name/Staging'', ''name/latest'' or ''name@alias''.';
        END IF;
    ELSE
        model_name := model;
        spec := 'Production';
        kind := 'default';
    END IF;

    SELECT m.model_id INTO mid FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) model_name;
    IF mid IS NULL THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
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
        RAISE EXCEPTION 'model reference "%" does not resolve to a version', model
            USING ERRCODE = 'undefined_object',
                  DETAIL = CASE kind
                      WHEN 'alias' THEN pg_catalog.format('Model "%s" has no alias "%s".', model_name, spec)
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

DROP FUNCTION mlops.delete_alias(text, text);
DROP FUNCTION mlops._impl_delete_alias(text, text);
-- drop_alias removes an alias.
CREATE FUNCTION mlops._impl_drop_alias(name text, alias text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    mid bigint := mlops._model_for_update(name);
    previous integer;
BEGIN
    DELETE FROM mlops.model_aliases a
     WHERE a.model_id OPERATOR(pg_catalog.=) mid AND a.alias OPERATOR(pg_catalog.=) alias
    RETURNING a.version INTO previous;
    IF previous IS NULL THEN
        RAISE EXCEPTION 'model "%" has no alias "%"', name, alias
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

DROP FUNCTION mlops.delete_model_version(text, integer);
DROP FUNCTION mlops._impl_delete_model_version(text, integer);
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
BEGIN
    IF r.stage OPERATOR(pg_catalog.=) 'Production' THEN
        RAISE EXCEPTION 'cannot drop version % of model "%" because it is in Production', version, name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Move it to another stage with mlops.transition_stage() first.';
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
