-- Audit log: every state-changing mlops function appends an event in the
-- same transaction as its change.  Append-only for everyone but its owner.

CREATE TABLE mlops.audit_log (
    event_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action            text NOT NULL CHECK (action OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$'),
    origin            text NOT NULL DEFAULT 'mlops' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['mlops', 'application'])),
    user_name         name NOT NULL,
    session_user_name name NOT NULL,
    resource_type     text NOT NULL,
    resource_id       text,
    details           jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(details) OPERATOR(pg_catalog.=) 'object'),
    client_addr       inet,
    application_name  text,
    transaction_id    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id()
);
CREATE INDEX audit_log_time_idx ON mlops.audit_log (event_time);
CREATE INDEX audit_log_action_time_idx ON mlops.audit_log (action, event_time);
REVOKE ALL ON mlops.audit_log FROM PUBLIC;

-- _audit_log_guard makes the log append-only for everyone but its owner.
CREATE FUNCTION mlops._audit_log_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    owner name;
BEGIN
    SELECT r.rolname INTO owner
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.relowner
     WHERE c.oid OPERATOR(pg_catalog.=) TG_RELID;
    IF current_user OPERATOR(pg_catalog.<>) owner THEN
        RAISE EXCEPTION 'mlops.audit_log is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('%s on the audit log is allowed only to the role that owns it.', TG_OP),
                  HINT = 'Add events with mlops.audit(); read them with mlops.audit_events().';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        RETURN NULL;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION mlops._audit_log_guard() FROM PUBLIC;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON mlops.audit_log
    FOR EACH ROW EXECUTE FUNCTION mlops._audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON mlops.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._audit_log_guard();

-- _audit_event appends one event; internal (used by every mlops function).
CREATE FUNCTION mlops._audit_event(action text, resource_type text, resource_id text,
                                   details jsonb DEFAULT '{}', origin text DEFAULT 'mlops')
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    INSERT INTO mlops.audit_log (action, origin, user_name, session_user_name, resource_type,
                                 resource_id, details, client_addr, application_name)
    VALUES ($1, $5, mlops.current_actor(), session_user, $2, $3, COALESCE($4, '{}'),
            pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name', true))
    RETURNING event_id
$$;
REVOKE ALL ON FUNCTION mlops._audit_event(text, text, text, jsonb, text) FROM PUBLIC;

-- audit lets applications record their own events.
CREATE FUNCTION mlops._impl_audit(action text, resource_type text, resource_id text, details jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF action IS NULL OR action OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$' THEN
        RAISE EXCEPTION 'invalid audit action %', COALESCE(pg_catalog.quote_literal(action), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Actions are lower-case dotted words.',
                  HINT = 'Use a name such as ''app.export'' or ''report.generate''.';
    END IF;
    IF resource_type IS NULL OR resource_type OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'resource_type must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the kind of object the event is about, such as ''model'' or ''report''.';
    END IF;
    PERFORM mlops._require_object(details, 'details');
    RETURN mlops._audit_event(action, resource_type, resource_id, details, 'application');
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_audit(text, text, text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.audit(action text, resource_type text, resource_id text, details jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.audit(text, text, text, jsonb) FROM PUBLIC;

-- audit_events returns events, newest first.
CREATE FUNCTION mlops.audit_events(action text DEFAULT NULL, since timestamptz DEFAULT NULL,
                                   until timestamptz DEFAULT NULL, max_rows integer DEFAULT 100)
    RETURNS SETOF mlops.audit_log
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(max_rows::text, 'NULL'));
    END IF;
    IF since IS NOT NULL AND until IS NOT NULL AND since OPERATOR(pg_catalog.>) until THEN
        RAISE EXCEPTION 'since must not be later than until'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT * FROM mlops.audit_log l
         WHERE ($1 IS NULL OR l.action OPERATOR(pg_catalog.=) $1
                OR l.action OPERATOR(pg_catalog.^@) ($1 OPERATOR(pg_catalog.||) '.'))
           AND ($2 IS NULL OR l.event_time OPERATOR(pg_catalog.>=) $2)
           AND ($3 IS NULL OR l.event_time OPERATOR(pg_catalog.<) $3)
         ORDER BY l.event_id DESC
         LIMIT $4;
END
$$;
REVOKE ALL ON FUNCTION mlops.audit_events(text, timestamptz, timestamptz, integer) FROM PUBLIC;
