-- Feature store (docs/feature_store.md): versioned feature set definitions
-- over the user's own tables, point-in-time correct training sets and their
-- lineage, and an online store of the latest value per entity.
--
-- The C side (src/features/) reads every source AS THE CALLER through the one
-- source resolver and writes these tables only through the _feature_* and
-- _impl_* functions below, as the extension owner with the caller recorded as
-- the actor.  The online tables (mlops_online.<feature set>, a schema of the
-- extension, so DROP EXTENSION ... CASCADE removes them) are created and
-- written only by mlops.materialize; readers go through the SECURITY DEFINER
-- mlops.get_online_features, so they need no privilege on the sources.

CREATE SCHEMA mlops_online;
REVOKE ALL ON SCHEMA mlops_online FROM PUBLIC;

CREATE TABLE mlops.feature_sets (
    feature_set_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE
                    CHECK (name OPERATOR(pg_catalog.~) '^[a-z_][a-z0-9_]{0,47}$'),
    description     text,
    tags            jsonb NOT NULL DEFAULT '{}'
                    CHECK (pg_catalog.jsonb_typeof(tags) OPERATOR(pg_catalog.=) 'object'),
    latest_version  integer NOT NULL CHECK (latest_version OPERATOR(pg_catalog.>) 0),
    online_version  integer,
    online_rows     bigint,
    materialized_at timestamptz,
    watermark       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL,
    owner           regrole NOT NULL
);

CREATE TABLE mlops.feature_set_versions (
    feature_set_id   bigint NOT NULL REFERENCES mlops.feature_sets (feature_set_id) ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version OPERATOR(pg_catalog.>) 0),
    source           text NOT NULL,
    entity_column    text NOT NULL,
    entity_type      text NOT NULL,
    timestamp_column text NOT NULL,
    timestamp_type   text NOT NULL,
    created_column   text,
    created_type     text,
    ttl              interval CHECK (ttl OPERATOR(pg_catalog.>) '0'::interval),
    features         jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(features) OPERATOR(pg_catalog.=) 'array'),
    row_count        bigint NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by       name NOT NULL,
    PRIMARY KEY (feature_set_id, version)
);

CREATE TABLE mlops.training_sets (
    training_set_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid                  oid NOT NULL,
    name                   text NOT NULL,
    entity_source          text NOT NULL,
    event_timestamp_column text NOT NULL,
    features               text[] NOT NULL,
    feature_set_versions   jsonb NOT NULL,
    row_count              bigint NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by             name NOT NULL,
    owner                  regrole NOT NULL
);
CREATE INDEX training_sets_relid ON mlops.training_sets (relid);

CREATE TABLE mlops.model_lineage (
    model_id        bigint NOT NULL,
    version         integer NOT NULL,
    training_set_id bigint NOT NULL REFERENCES mlops.training_sets (training_set_id) ON DELETE CASCADE,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_id, version),
    FOREIGN KEY (model_id, version) REFERENCES mlops.model_versions (model_id, version) ON DELETE CASCADE
);

-- Every committed change of the feature store (a new set or version, a
-- materialisation, a dropped set, a training set or a model's lineage)
-- invalidates the predict_entity caches of all backends (src/features/online.c).
CREATE FUNCTION mlops._feature_store_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops_feature_store_changed';
REVOKE ALL ON FUNCTION mlops._feature_store_changed() FROM PUBLIC;
CREATE TRIGGER feature_sets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.feature_sets
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._feature_store_changed();
CREATE TRIGGER feature_set_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.feature_set_versions
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._feature_store_changed();
CREATE TRIGGER training_sets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.training_sets
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._feature_store_changed();
CREATE TRIGGER model_lineage_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.model_lineage
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._feature_store_changed();

-- _feature_set_write stores one registration: a new feature set (version 1),
-- a new version when the schema (entity, timestamps, ttl, features and their
-- types) changed, or fresh statistics on the latest version otherwise.
-- Called by mlops.register_feature_set (src/features/feature_sets.c) as the
-- extension owner after it read the source as the caller.
CREATE FUNCTION mlops._feature_set_write(p_name text, p_source text, p_entity_column text,
                                         p_entity_type text, p_timestamp_column text,
                                         p_timestamp_type text, p_created_column text,
                                         p_created_type text, p_ttl interval, p_features jsonb,
                                         p_row_count bigint, p_description text, p_tags jsonb)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s mlops.feature_sets;
    v mlops.feature_set_versions;
    same boolean;
    new_version integer;
BEGIN
    PERFORM mlops._require_object(p_tags, 'tags');
    SELECT * INTO s FROM mlops.feature_sets f WHERE f.name OPERATOR(pg_catalog.=) p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO mlops.feature_sets (name, description, tags, latest_version, created_by, owner)
        VALUES (p_name, p_description, p_tags, 1, mlops.current_actor(), mlops.current_actor()::regrole)
        RETURNING * INTO s;
        new_version := 1;
    ELSE
        PERFORM mlops._require_owner('feature_set', p_name, s.owner);
        SELECT * INTO v FROM mlops.feature_set_versions x
         WHERE x.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id
           AND x.version OPERATOR(pg_catalog.=) s.latest_version;
        same := v.source OPERATOR(pg_catalog.=) p_source
            AND v.entity_column OPERATOR(pg_catalog.=) p_entity_column
            AND v.entity_type OPERATOR(pg_catalog.=) p_entity_type
            AND v.timestamp_column OPERATOR(pg_catalog.=) p_timestamp_column
            AND v.timestamp_type OPERATOR(pg_catalog.=) p_timestamp_type
            AND v.created_column IS NOT DISTINCT FROM p_created_column
            AND v.created_type IS NOT DISTINCT FROM p_created_type
            AND v.ttl IS NOT DISTINCT FROM p_ttl
            AND (SELECT pg_catalog.array_agg(pg_catalog.jsonb_build_array(f OPERATOR(pg_catalog.->) 'name',
                                                                         f OPERATOR(pg_catalog.->) 'type') ORDER BY o)
                   FROM pg_catalog.jsonb_array_elements(v.features) WITH ORDINALITY AS e(f, o))
                OPERATOR(pg_catalog.=)
                (SELECT pg_catalog.array_agg(pg_catalog.jsonb_build_array(f OPERATOR(pg_catalog.->) 'name',
                                                                         f OPERATOR(pg_catalog.->) 'type') ORDER BY o)
                   FROM pg_catalog.jsonb_array_elements(p_features) WITH ORDINALITY AS e(f, o));
        UPDATE mlops.feature_sets f
           SET description = COALESCE(p_description, f.description),
               tags = f.tags OPERATOR(pg_catalog.||) p_tags
         WHERE f.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id;
        IF same THEN
            UPDATE mlops.feature_set_versions x
               SET features = p_features, row_count = p_row_count, registered_at = pg_catalog.now()
             WHERE x.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id
               AND x.version OPERATOR(pg_catalog.=) s.latest_version;
            PERFORM mlops._audit_event('feature_set.refresh', 'feature_set', p_name,
                                       pg_catalog.jsonb_build_object('version', s.latest_version));
            RETURN s.latest_version;
        END IF;
        new_version := s.latest_version OPERATOR(pg_catalog.+) 1;
        UPDATE mlops.feature_sets f SET latest_version = new_version
         WHERE f.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id;
    END IF;
    INSERT INTO mlops.feature_set_versions (feature_set_id, version, source, entity_column, entity_type,
                                            timestamp_column, timestamp_type, created_column, created_type,
                                            ttl, features, row_count, created_by)
    VALUES (s.feature_set_id, new_version, p_source, p_entity_column, p_entity_type, p_timestamp_column,
            p_timestamp_type, p_created_column, p_created_type, p_ttl, p_features, p_row_count,
            mlops.current_actor());
    PERFORM mlops._audit_event('feature_set.register', 'feature_set', p_name,
                               pg_catalog.jsonb_build_object('version', new_version));
    RETURN new_version;
END
$$;
REVOKE ALL ON FUNCTION mlops._feature_set_write(text, text, text, text, text, text, text, text, interval,
                                                jsonb, bigint, text, jsonb) FROM PUBLIC;

-- _feature_set_version returns one version's definition (the latest when
-- version is NULL), or raises 42704 when the set or the version is unknown.
CREATE FUNCTION mlops._feature_set_version(p_name text, p_version integer)
    RETURNS TABLE (feature_set_id bigint, version integer, source text, entity_column text,
                   entity_type text, timestamp_column text, timestamp_type text,
                   created_column text, created_type text, ttl interval, feature_names text[],
                   feature_types text[], owner oid, latest_version integer, online_version integer,
                   watermark timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s mlops.feature_sets;
BEGIN
    SELECT * INTO s FROM mlops.feature_sets f WHERE f.name OPERATOR(pg_catalog.=) p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature set "%" does not exist', pg_catalog.left(p_name, 200)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it with mlops.register_feature_set(); mlops.feature_sets lists them.';
    END IF;
    RETURN QUERY
        SELECT v.feature_set_id, v.version, v.source, v.entity_column, v.entity_type, v.timestamp_column,
               v.timestamp_type, v.created_column, v.created_type, v.ttl,
               ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'name'
                       FROM pg_catalog.jsonb_array_elements(v.features) WITH ORDINALITY AS e(f, o) ORDER BY o),
               ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'type'
                       FROM pg_catalog.jsonb_array_elements(v.features) WITH ORDINALITY AS e(f, o) ORDER BY o),
               s.owner::oid, s.latest_version, s.online_version, s.watermark
          FROM mlops.feature_set_versions v
         WHERE v.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id
           AND v.version OPERATOR(pg_catalog.=) COALESCE(p_version, s.latest_version);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature set "%" has no version %', pg_catalog.left(p_name, 200), p_version
            USING ERRCODE = 'undefined_object',
                  HINT = pg_catalog.format('Its versions are 1 to %s.', s.latest_version);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._feature_set_version(text, integer) FROM PUBLIC;

-- drop_feature_set removes a feature set, its versions and its online table;
-- training sets made from it keep their lineage records.
CREATE FUNCTION mlops._impl_drop_feature_set(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s mlops.feature_sets;
BEGIN
    SELECT * INTO s FROM mlops.feature_sets f WHERE f.name OPERATOR(pg_catalog.=) $1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature set "%" does not exist', pg_catalog.left($1, 200)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM mlops._require_owner('feature_set', $1, s.owner);
    EXECUTE pg_catalog.format('DROP TABLE IF EXISTS mlops_online.%I', s.name);
    DELETE FROM mlops.feature_sets f WHERE f.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id;
    PERFORM mlops._audit_event('feature_set.drop', 'feature_set', $1, '{}'::jsonb);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_drop_feature_set(text) FROM PUBLIC;
CREATE FUNCTION mlops.drop_feature_set(name text) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_feature_set(text) FROM PUBLIC;

-- feature_set_info: the definition of every version, the online store's
-- freshness (rows, last materialisation, staleness) and the owner.
CREATE FUNCTION mlops.feature_set_info(name text) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s mlops.feature_sets;
BEGIN
    SELECT * INTO s FROM mlops.feature_sets f WHERE f.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature set "%" does not exist', pg_catalog.left($1, 200)
            USING ERRCODE = 'undefined_object',
                  HINT = 'mlops.feature_sets lists the registered feature sets.';
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'name', s.name, 'description', s.description, 'tags', s.tags,
        'latest_version', s.latest_version, 'owner', s.owner::pg_catalog.text,
        'created_by', s.created_by, 'created_at', s.created_at,
        'versions', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                         'version', v.version, 'source', v.source, 'entity_column', v.entity_column,
                         'entity_type', v.entity_type, 'timestamp_column', v.timestamp_column,
                         'created_column', v.created_column, 'ttl', v.ttl::pg_catalog.text,
                         'row_count', v.row_count, 'features', v.features,
                         'registered_at', v.registered_at) ORDER BY v.version)
                       FROM mlops.feature_set_versions v
                      WHERE v.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id),
        'online', pg_catalog.jsonb_build_object(
            'version', s.online_version, 'rows', s.online_rows,
            'materialized_at', s.materialized_at, 'watermark', s.watermark,
            'staleness_seconds', pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) s.watermark)));
END
$$;
REVOKE ALL ON FUNCTION mlops.feature_set_info(text) FROM PUBLIC;

-- _feature_ambiguous raises the error of a point-in-time join whose latest
-- feature row is not unique (two rows of one entity at the same timestamp
-- and creation time).  The SQL of mlops.historical_features_sql calls it.
CREATE FUNCTION mlops._feature_ambiguous(feature_set text, entity text, ts timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RAISE EXCEPTION 'feature set "%" has several rows for entity "%" at %', pg_catalog.left(feature_set, 200),
                    pg_catalog.left(entity, 200), ts
        USING ERRCODE = 'cardinality_violation',
              DETAIL = 'A point-in-time join takes the latest row of each entity; two rows with the same entity, timestamp and creation time make it ambiguous.',
              HINT = 'Remove the duplicates, or register the feature set with a created_column that orders them.';
END
$$;
REVOKE ALL ON FUNCTION mlops._feature_ambiguous(text, text, timestamptz) FROM PUBLIC;

-- _record_training_set records what mlops.create_training_set made.
CREATE FUNCTION mlops._record_training_set(p_relid oid, p_name text, p_entity_source text,
                                           p_event_timestamp_column text, p_features text[],
                                           p_versions jsonb, p_row_count bigint)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
BEGIN
    DELETE FROM mlops.training_sets t WHERE t.relid OPERATOR(pg_catalog.=) p_relid;
    INSERT INTO mlops.training_sets (relid, name, entity_source, event_timestamp_column, features,
                                     feature_set_versions, row_count, created_by, owner)
    VALUES (p_relid, p_name, p_entity_source, p_event_timestamp_column, p_features, p_versions,
            p_row_count, mlops.current_actor(), mlops.current_actor()::regrole)
    RETURNING training_set_id INTO id;
    PERFORM mlops._audit_event('training_set.create', 'training_set', p_name,
                               pg_catalog.jsonb_build_object('feature_set_versions', p_versions,
                                                             'row_count', p_row_count));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._record_training_set(oid, text, text, text, text[], jsonb, bigint) FROM PUBLIC;

-- _record_training_lineage links a trained model version to the training
-- set it was trained on (mlops.train calls it with the relation it read);
-- it returns false when that relation is not a training set.
CREATE FUNCTION mlops._record_training_lineage(p_relid oid, p_model text, p_version integer)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ts bigint;
    mid bigint;
BEGIN
    SELECT t.training_set_id INTO ts FROM mlops.training_sets t
     WHERE t.relid OPERATOR(pg_catalog.=) p_relid ORDER BY t.training_set_id DESC LIMIT 1;
    IF ts IS NULL THEN
        RETURN false;
    END IF;
    SELECT m.model_id INTO mid FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) p_model;
    INSERT INTO mlops.model_lineage (model_id, version, training_set_id) VALUES (mid, p_version, ts);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION mlops._record_training_lineage(oid, text, integer) FROM PUBLIC;

-- register_feature_set, create_training_set, historical_features_sql and
-- materialize read sources as the caller: src/features/.
CREATE FUNCTION mlops.register_feature_set(name text, source text, entity_column text,
                                           timestamp_column text, features text[] DEFAULT NULL,
                                           ttl interval DEFAULT NULL, created_column text DEFAULT NULL,
                                           description text DEFAULT NULL, tags jsonb DEFAULT '{}')
    RETURNS integer
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_register_feature_set';
REVOKE ALL ON FUNCTION mlops.register_feature_set(text, text, text, text, text[], interval, text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION mlops.historical_features_sql(entity_source text, features text[],
                                              event_timestamp_column text DEFAULT 'event_timestamp')
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_historical_features_sql';
REVOKE ALL ON FUNCTION mlops.historical_features_sql(text, text[], text) FROM PUBLIC;

CREATE FUNCTION mlops.create_training_set(name text, entity_source text, features text[],
                                          event_timestamp_column text DEFAULT 'event_timestamp')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_create_training_set';
REVOKE ALL ON FUNCTION mlops.create_training_set(text, text, text[], text) FROM PUBLIC;

CREATE FUNCTION mlops.materialize(feature_set text, start_ts timestamptz DEFAULT NULL,
                                  end_ts timestamptz DEFAULT pg_catalog.now())
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_materialize';
REVOKE ALL ON FUNCTION mlops.materialize(text, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION mlops.materialize_incremental(feature_set text)
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_materialize_incremental';
REVOKE ALL ON FUNCTION mlops.materialize_incremental(text) FROM PUBLIC;

-- _online_rows: the rows of get_online_features once it checked its
-- arguments, read with a query planned once per backend and set (C,
-- src/features/online.c; emptied with predict_entity's cache).  Internal:
-- get_online_features calls it as the extension owner.
CREATE FUNCTION mlops._online_rows(feature_set text, entity_ids text[], feature_names text[])
    RETURNS TABLE (entity_id text, features jsonb, event_timestamp timestamptz)
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'mlops_online_rows';
REVOKE ALL ON FUNCTION mlops._online_rows(text, text[], text[]) FROM PUBLIC;

-- get_online_features reads the online table as the extension owner, so a
-- role with EXECUTE on it needs no privilege on the feature set's source.
-- Unknown entities come back with NULL features; the third argument is
-- named feature_names because the result column is called features; features older than the
-- set's ttl (now() - timestamp > ttl) come back as JSON nulls.
CREATE FUNCTION mlops.get_online_features(feature_set text, entity_ids text[], feature_names text[] DEFAULT NULL)
    RETURNS TABLE (entity_id text, features jsonb, event_timestamp timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    s mlops.feature_sets;
    v mlops.feature_set_versions;
    names text[];
    wanted text[];
    unknown text[];
    keys text;
BEGIN
    IF feature_set IS NULL OR entity_ids IS NULL THEN
        RAISE EXCEPTION 'feature_set and entity_ids must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_position(entity_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'entity_ids must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.cardinality(entity_ids) OPERATOR(pg_catalog.>) 100000 THEN
        RAISE EXCEPTION 'entity_ids has % elements, more than 100000', pg_catalog.cardinality(entity_ids)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Ask in batches of at most 100000 entities.';
    END IF;
    SELECT * INTO s FROM mlops.feature_sets f WHERE f.name OPERATOR(pg_catalog.=) feature_set;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature set "%" does not exist', pg_catalog.left(feature_set, 200)
            USING ERRCODE = 'undefined_object',
                  HINT = 'mlops.feature_sets lists the registered feature sets.';
    END IF;
    IF s.online_version IS NULL THEN
        RAISE EXCEPTION 'feature set "%" has not been materialized', s.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Run SELECT mlops.materialize(%L) first.', s.name);
    END IF;
    SELECT * INTO v FROM mlops.feature_set_versions x
     WHERE x.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id
       AND x.version OPERATOR(pg_catalog.=) s.online_version;
    names := ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'name'
                     FROM pg_catalog.jsonb_array_elements(v.features) WITH ORDINALITY AS e(f, o) ORDER BY o);
    IF feature_names IS NULL THEN
        wanted := names;
    ELSE
        IF pg_catalog.array_position(feature_names, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'feature_names must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
        END IF;
        unknown := ARRAY(SELECT u FROM pg_catalog.unnest(feature_names) u WHERE u OPERATOR(pg_catalog.<>) ALL (names));
        IF pg_catalog.cardinality(unknown) OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'feature set "%" has no feature "%"', s.name, pg_catalog.left(unknown[1], 200)
                USING ERRCODE = 'undefined_column',
                      HINT = pg_catalog.format('Its features are %s.', pg_catalog.array_to_string(names[1:20], ', '));
        END IF;
        wanted := feature_names;
    END IF;
    -- the keys, cast to the entity type up front so a wrong key is one clear error
    BEGIN
        EXECUTE pg_catalog.format('SELECT $1::%s[]', v.entity_type) INTO keys USING entity_ids;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'entity_ids are not all valid % values for feature set "%"', v.entity_type, s.name
            USING ERRCODE = 'invalid_text_representation',
                  DETAIL = pg_catalog.format('The entity column "%s" is of type %s.', v.entity_column, v.entity_type);
    END;
    -- the rows, with a plan kept per backend (src/features/online.c)
    RETURN QUERY SELECT * FROM mlops._online_rows(s.name, entity_ids, wanted);
END
$$;
REVOKE ALL ON FUNCTION mlops.get_online_features(text, text[], text[]) FROM PUBLIC;

-- _entity_features looks up, in the online store, the features of one
-- entity that a model version was trained on (its training set's lineage):
-- the resolved model, the features as one object, and when each feature
-- set last saw the entity.  known is false when no feature set knows it.
CREATE FUNCTION mlops._entity_features(p_model text, p_entity_id text)
    RETURNS TABLE (model_ref text, model_name text, model_version integer, features jsonb,
                   event_timestamps jsonb, known boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
    lin jsonb;
    fs jsonb;
    o record;
BEGIN
    IF p_model IS NULL OR p_entity_id IS NULL THEN
        RAISE EXCEPTION 'model and entity_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM mlops.resolve_model(p_model);
    lin := mlops._model_lineage(r.model_id, r.version);
    IF lin IS NULL THEN
        RAISE EXCEPTION 'model "%" version % was not trained on a training set', r.name, r.version
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Train it with mlops.train on a table made by mlops.create_training_set, so it knows its features.';
    END IF;
    model_ref := r.name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) r.version;
    model_name := r.name;
    model_version := r.version;
    features := '{}';
    event_timestamps := '{}';
    known := false;
    FOR fs IN SELECT e FROM pg_catalog.jsonb_array_elements(lin OPERATOR(pg_catalog.->) 'feature_set_versions') e LOOP
        SELECT * INTO o FROM mlops.get_online_features(
            fs OPERATOR(pg_catalog.->>) 'feature_set', ARRAY[p_entity_id],
            ARRAY(SELECT pg_catalog.jsonb_array_elements_text(fs OPERATOR(pg_catalog.->) 'features'))) g;
        IF o.features IS NOT NULL THEN
            known := true;
            features := features OPERATOR(pg_catalog.||) o.features;
        END IF;
        event_timestamps := event_timestamps OPERATOR(pg_catalog.||)
            pg_catalog.jsonb_build_object(fs OPERATOR(pg_catalog.->>) 'feature_set', o.event_timestamp);
    END LOOP;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION mlops._entity_features(text, text) FROM PUBLIC;

-- predict_entity: the application passes a model and an entity id;
-- the model's features come from the online store (the lineage of the
-- version the reference resolves to), and the prediction goes through
-- mlops.predict with the routing key, so deployments route it as any other.
-- NULL when no feature set knows the entity; features past their ttl are
-- missing values.  In C (src/features/online.c) with plans kept per
-- backend; it reads and predicts as the extension owner, as the PL/pgSQL
-- predict_entity_detail below does.
CREATE FUNCTION mlops.predict_entity(model text, entity_id text, routing_key text DEFAULT NULL)
    RETURNS float8
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_predict_entity';
REVOKE ALL ON FUNCTION mlops.predict_entity(text, text, text) FROM PUBLIC;

-- predict_entity_detail: mlops.predict_detail's document (the version and
-- variant that served) with the entity, whether it is known, its features
-- and when each feature set last saw it.
CREATE FUNCTION mlops.predict_entity_detail(model text, entity_id text, routing_key text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e record;
BEGIN
    SELECT * INTO e FROM mlops._entity_features(model, entity_id);
    RETURN CASE WHEN e.known THEN mlops.predict_detail(model, e.features, routing_key)
                ELSE pg_catalog.jsonb_build_object('prediction', NULL, 'model', e.model_name,
                                                   'model_version', e.model_version) END
        OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'entity_id', entity_id, 'known', e.known, 'features', e.features,
            'event_timestamps', e.event_timestamps);
END
$$;
REVOKE ALL ON FUNCTION mlops.predict_entity_detail(text, text, text) FROM PUBLIC;

-- _prom_feature_sets: the online store's freshness for
-- mlops.prometheus_metrics(): rows, time of the last materialisation and
-- staleness (now minus the watermark) per feature set.
CREATE FUNCTION mlops._prom_feature_sets()
    RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    rows_lines text;
    time_lines text;
    stale_lines text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_feature_set_online_rows{feature_set=%s} %s\n',
                                                   mlops._prom_label(s.name), s.online_rows), '' ORDER BY s.name),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_feature_set_last_materialized_seconds{feature_set=%s} %s\n',
                                                   mlops._prom_label(s.name),
                                                   pg_catalog.date_part('epoch', s.materialized_at)), '' ORDER BY s.name),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_feature_set_staleness_seconds{feature_set=%s} %s\n',
                                                   mlops._prom_label(s.name),
                                                   pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) s.watermark)),
                                 '' ORDER BY s.name)
      INTO rows_lines, time_lines, stale_lines
      FROM mlops.feature_sets s WHERE s.materialized_at IS NOT NULL;
    RETURN mlops._prom_family('mlops_feature_set_online_rows', 'gauge',
               'Entities in the online store, per feature set.', rows_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_feature_set_last_materialized_seconds', 'gauge',
               'Unix time of the last materialisation, per feature set.', time_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_feature_set_staleness_seconds', 'gauge',
               'Seconds between now and the newest materialised feature time (the watermark), per feature set.',
               stale_lines);
END
$$;
REVOKE ALL ON FUNCTION mlops._prom_feature_sets() FROM PUBLIC;

-- materialization_pipeline: materialise one feature set (incrementally by
-- default) and report its freshness; a pipeline (src/sched/pipelines.c runs
-- it as the caller and records it in mlops.pipeline_runs), so it can be
-- scheduled with mlops.schedule_pipeline(job, 'materialization_pipeline',
-- cron, '{"feature_set": "..."}').
CREATE FUNCTION mlops._impl_materialization_pipeline(feature_set text, incremental boolean)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_variable
DECLARE
    params jsonb := pg_catalog.jsonb_build_object('feature_set', feature_set, 'incremental', incremental);
    t0 timestamptz := pg_catalog.clock_timestamp();
    entities bigint;
    online jsonb;
    msg text;
BEGIN
    IF feature_set IS NULL OR incremental IS NULL THEN
        RAISE EXCEPTION 'feature_set and incremental must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    BEGIN
        IF incremental THEN
            entities := mlops.materialize_incremental(feature_set);
        ELSE
            entities := mlops.materialize(feature_set);
        END IF;
        online := mlops.feature_set_info(feature_set) OPERATOR(pg_catalog.->) 'online';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RETURN pg_catalog.jsonb_build_object(
            'status', 'failed', 'parameters', params, 'error', msg,
            'steps', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', 'materialize', 'status', 'failed', 'error', msg,
                'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0))));
    END;
    RETURN pg_catalog.jsonb_build_object(
        'status', 'succeeded', 'parameters', params,
        'steps', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', 'materialize', 'status', 'succeeded',
            'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'result', pg_catalog.jsonb_build_object('entities', entities))),
        'result', pg_catalog.jsonb_build_object('feature_set', feature_set, 'entities', entities,
                                                'online_rows', online OPERATOR(pg_catalog.->) 'rows'));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_materialization_pipeline(text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.materialization_pipeline(feature_set text, incremental boolean DEFAULT true)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.materialization_pipeline(text, boolean) FROM PUBLIC;

-- set_drift_reference_from_feature_set stores a drift reference over the
-- latest version of a feature set: its source and features, read as the
-- caller by mlops.set_drift_reference.
CREATE FUNCTION mlops.set_drift_reference_from_feature_set(name text, feature_set text)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_set_drift_reference_from_feature_set';
REVOKE ALL ON FUNCTION mlops.set_drift_reference_from_feature_set(text, text) FROM PUBLIC;
