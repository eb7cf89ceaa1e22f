-- mlops 0.2.0 install script, assembled from sql/install/*.sql in name order.
\echo Use "CREATE EXTENSION mlops" to load this file. \quit

-- The schema is created by CREATE EXTENSION (schema = mlops in mlops.control).
-- Nothing in it is usable by PUBLIC: docs/security.md gives the GRANT recipes.
REVOKE ALL ON SCHEMA mlops FROM PUBLIC;

-- current_actor: the role that called the outermost active mlops function
-- (see src/security.c); current_user outside one.
CREATE FUNCTION mlops.current_actor() RETURNS name
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_current_actor';
REVOKE ALL ON FUNCTION mlops.current_actor() FROM PUBLIC;

-- version: the installed extension's version, the library's, libxgboost's and the build's git
-- revision; answers even when the library refuses to serve the installed schema (docs/operations.md).
CREATE FUNCTION mlops.version() RETURNS jsonb
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_version';
REVOKE ALL ON FUNCTION mlops.version() FROM PUBLIC;

-- _require_object raises a clear error unless value is a JSON object.
CREATE FUNCTION mlops._require_object(value jsonb, argname text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value IS NULL OR pg_catalog.jsonb_typeof(value) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'argument "%" must be a JSON object', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(pg_catalog.jsonb_typeof(value), 'NULL')),
                  HINT = pg_catalog.format('Pass an object such as ''{"key": "value"}''::jsonb as %s.', argname);
    END IF;
    RETURN value;
END
$$;
REVOKE ALL ON FUNCTION mlops._require_object(jsonb, text) FROM PUBLIC;

-- _clip and _list are the SQL faces of MlopsClip and MlopsList
-- (src/common/messages.c): a message raised in SQL echoes at most 200 bytes
-- of a user string, and lists at most 20 items, then "… and N more".
CREATE FUNCTION mlops._clip(s text) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_clip';
REVOKE ALL ON FUNCTION mlops._clip(text) FROM PUBLIC;
CREATE FUNCTION mlops._list(items text[]) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_list';
REVOKE ALL ON FUNCTION mlops._list(text[]) FROM PUBLIC;
