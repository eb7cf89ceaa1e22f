-- Audit log: every state-changing mlops function appends an event in the
-- same transaction as its change.  Append-only for everyone but its owner,
-- and tamper-evident: when a transaction that recorded events commits, its
-- events are chained (docs/audit.md#tamper-evidence): each stores its
-- position in the chain, the hash of the event before it and the SHA-256 of
-- its own canonical content (mlops._audit_hash), and
-- mlops.verify_audit_log() finds the first broken link.

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
    transaction_id    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    chain_seq         bigint,
    prev_hash         bytea CHECK (pg_catalog.length(prev_hash) OPERATOR(pg_catalog.=) 32),
    hash              bytea CHECK (pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32)
);
CREATE INDEX audit_log_time_idx ON mlops.audit_log (event_time);
CREATE INDEX audit_log_action_time_idx ON mlops.audit_log (action, event_time);
REVOKE ALL ON mlops.audit_log FROM PUBLIC;

-- The head of the chain: its last event.  One row, made when the first
-- event is chained (none at install, so a dump restores it as it was).
CREATE TABLE mlops.audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chain_seq  bigint NOT NULL,
    event_id   bigint NOT NULL,
    hash       bytea NOT NULL CHECK (pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32)
);
REVOKE ALL ON mlops.audit_chain_head FROM PUBLIC;

-- _audit_hash is the SHA-256 of an event's canonical content at chain
-- position chain_seq after an event whose hash is prev_hash: the UTF-8 bytes
-- of the JSON array, as json_build_array writes it, of these fields as JSON
-- strings (null when NULL): event_id, event_time in UTC as
-- YYYY-MM-DDTHH:MI:SS.ffffffZ, action, origin, user_name,
-- session_user_name, resource_type, resource_id, details as jsonb text,
-- client_addr, application_name, transaction_id, chain_seq, prev_hash in
-- lower-case hex.  No SET clause, so that it is inlined into the statements
-- that call it; every name in it is schema-qualified.
CREATE FUNCTION mlops._audit_hash(e mlops.audit_log, chain_seq bigint, prev_hash bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.json_build_array(
               e.event_id::pg_catalog.text,
               pg_catalog.to_char(pg_catalog.timezone('UTC', e.event_time), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               e.action, e.origin, e.user_name::pg_catalog.text, e.session_user_name::pg_catalog.text,
               e.resource_type, e.resource_id, e.details::pg_catalog.text, e.client_addr::pg_catalog.text,
               e.application_name, e.transaction_id::pg_catalog.text, chain_seq::pg_catalog.text,
               pg_catalog.encode(prev_hash, 'hex'))::pg_catalog.text, 'UTF8'))
$$;
REVOKE ALL ON FUNCTION mlops._audit_hash(mlops.audit_log, bigint, bytea) FROM PUBLIC;

-- _audit_log_pending remembers each new event; the transaction chains them
-- just before it commits (src/common/audit_chain.c).
CREATE FUNCTION mlops._audit_log_pending() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'mlops_audit_log_pending';
REVOKE ALL ON FUNCTION mlops._audit_log_pending() FROM PUBLIC;
CREATE TRIGGER audit_log_chain AFTER INSERT ON mlops.audit_log
    FOR EACH ROW EXECUTE FUNCTION mlops._audit_log_pending();

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
        RAISE EXCEPTION 'invalid audit action %', COALESCE(mlops._clip(pg_catalog.quote_literal(action)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Actions are lower-case dotted words.',
                  HINT = 'Use a name such as ''app.export'' or ''report.generate''.';
    END IF;
    IF pg_catalog.length(action) OPERATOR(pg_catalog.>) 100 THEN
        RAISE EXCEPTION 'audit action is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Actions are at most 100 characters; this one has %s.', pg_catalog.length(action));
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

-- audit_events returns events, newest first.  Auditors (members of a role
-- holding the auditor or admin capability, and of the extension owner) see
-- every event; anyone else sees their own actions and the events about
-- objects whose owner they are a member of (an event is about the object of
-- kind resource_type named resource_id, see mlops._object_kinds(); a
-- model_version event 'name/3' is about the model).
CREATE FUNCTION mlops._impl_audit_events(action text, since timestamptz, until timestamptz, max_rows integer)
    RETURNS SETOF mlops.audit_log
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    actor name := mlops.current_actor();
    visible text;
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
    IF mlops._audit_sees_all() THEN
        RETURN QUERY
            SELECT * FROM mlops.audit_log l
             WHERE ($1 IS NULL OR l.action OPERATOR(pg_catalog.=) $1
                    OR l.action OPERATOR(pg_catalog.^@) ($1 OPERATOR(pg_catalog.||) '.'))
               AND ($2 IS NULL OR l.event_time OPERATOR(pg_catalog.>=) $2)
               AND ($3 IS NULL OR l.event_time OPERATOR(pg_catalog.<) $3)
             ORDER BY l.event_id DESC
             LIMIT $4;
        RETURN;
    END IF;
    -- the objects the actor may change, as (kind, name), one SELECT per kind
    SELECT pg_catalog.string_agg(pg_catalog.format(
               'SELECT %L::pg_catalog.text, o.%I::pg_catalog.text FROM %s o WHERE mlops._may_change(o.owner)',
               k.kind, k.key_column, k.relation), ' UNION ALL ')
      INTO visible FROM mlops._object_kinds() k;
    RETURN QUERY EXECUTE pg_catalog.format($q$
        WITH visible (kind, name) AS (%s)
        SELECT l.* FROM mlops.audit_log l
         WHERE ($1 IS NULL OR l.action OPERATOR(pg_catalog.=) $1
                OR l.action OPERATOR(pg_catalog.^@) ($1 OPERATOR(pg_catalog.||) '.'))
           AND ($2 IS NULL OR l.event_time OPERATOR(pg_catalog.>=) $2)
           AND ($3 IS NULL OR l.event_time OPERATOR(pg_catalog.<) $3)
           AND (l.user_name OPERATOR(pg_catalog.=) $5
                OR EXISTS (SELECT 1 FROM visible v
                            WHERE v.kind OPERATOR(pg_catalog.=) CASE l.resource_type WHEN 'model_version' THEN 'model'
                                                                 ELSE l.resource_type END
                              AND v.name OPERATOR(pg_catalog.=) CASE l.resource_type
                                      WHEN 'model_version' THEN pg_catalog.split_part(l.resource_id, '/', 1)
                                      ELSE l.resource_id END))
         ORDER BY l.event_id DESC
         LIMIT $4$q$, COALESCE(visible, 'SELECT NULL::pg_catalog.text, NULL::pg_catalog.text WHERE false'))
        USING action, since, until, max_rows, actor;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_audit_events(text, timestamptz, timestamptz, integer) FROM PUBLIC;
CREATE FUNCTION mlops.audit_events(action text DEFAULT NULL, since timestamptz DEFAULT NULL,
                                   until timestamptz DEFAULT NULL, max_rows integer DEFAULT 100)
    RETURNS SETOF mlops.audit_log
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.audit_events(text, timestamptz, timestamptz, integer) FROM PUBLIC;

-- _audit_sees_all tells whether the actor is an auditor: a member of a role
-- holding the auditor or admin capability, or of the extension owner.
CREATE FUNCTION mlops._audit_sees_all() RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN mlops._may_change((SELECT n.nspowner FROM pg_catalog.pg_namespace n
                               WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops')::pg_catalog.regrole)
           OR EXISTS (SELECT 1 FROM mlops.capability_grants g
                       WHERE g.capability OPERATOR(pg_catalog.=) ANY (ARRAY['auditor', 'admin'])
                         AND mlops._may_change(g.role));
END
$$;
REVOKE ALL ON FUNCTION mlops._audit_sees_all() FROM PUBLIC;

-- verify_audit_log checks the chain from its start (or from the first
-- event at or after since) to its head: every event's hash matches its
-- content, links to the event before it, and the last one is the head.  It
-- returns {"ok": true, "events": N, "last_event_id": …, "last_hash": …} or
-- the first broken link: {"ok": false, "events": N checked before it,
-- "event_id": …, "chain_seq": …, "problem": "edited" | "deleted" |
-- "reordered" | "unchained", "detail": …}.
CREATE FUNCTION mlops.verify_audit_log(since timestamptz DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    start_seq bigint := 1;
    n bigint;
    bad record;
    last record;
    head mlops.audit_chain_head;
    other record;
    loose bigint;
BEGIN
    IF since IS NOT NULL THEN
        SELECT pg_catalog.min(l.chain_seq) INTO start_seq FROM mlops.audit_log l
         WHERE l.event_time OPERATOR(pg_catalog.>=) since;
    END IF;
    -- every chained event from start_seq on, with the one before it (if any)
    WITH c AS (
        SELECT l.event_id, l.chain_seq, l.prev_hash, l.hash,
               l.hash IS DISTINCT FROM mlops._audit_hash(l, l.chain_seq, l.prev_hash) AS edited,
               pg_catalog.lag(l.chain_seq) OVER w AS before_seq,
               pg_catalog.lag(l.hash) OVER w AS before_hash,
               pg_catalog.lag(l.event_id) OVER w AS before_id
          FROM mlops.audit_log l
         WHERE l.chain_seq OPERATOR(pg_catalog.>=) (start_seq OPERATOR(pg_catalog.-) 1)
        WINDOW w AS (ORDER BY l.chain_seq, l.event_id)),
    checked AS (
        SELECT c.*,
               CASE WHEN c.before_seq IS NULL THEN
                        -- the first event kept: the chain's first, or (with since) the anchor
                        NOT (c.chain_seq OPERATOR(pg_catalog.=) 1 AND c.prev_hash IS NULL)
                        AND (since IS NULL OR c.chain_seq OPERATOR(pg_catalog.=) 1)
                    ELSE c.before_seq OPERATOR(pg_catalog.<>) (c.chain_seq OPERATOR(pg_catalog.-) 1)
                         OR c.prev_hash IS DISTINCT FROM c.before_hash END AS unlinked,
               pg_catalog.count(*) OVER (ORDER BY c.chain_seq, c.event_id) AS ordinal
          FROM c WHERE c.chain_seq OPERATOR(pg_catalog.>=) start_seq)
    SELECT * INTO bad FROM checked k WHERE k.edited OR k.unlinked
     ORDER BY k.chain_seq, k.event_id LIMIT 1;
    IF FOUND THEN
        -- an event that links to another event still there was moved
        SELECT l.event_id, l.chain_seq INTO other FROM mlops.audit_log l
         WHERE bad.unlinked AND l.hash OPERATOR(pg_catalog.=) bad.prev_hash
           AND l.event_id OPERATOR(pg_catalog.<>) bad.event_id
         LIMIT 1;
        RETURN pg_catalog.jsonb_build_object('ok', false, 'events', bad.ordinal OPERATOR(pg_catalog.-) 1,
                   'event_id', bad.event_id, 'chain_seq', bad.chain_seq)
               OPERATOR(pg_catalog.||) CASE
            WHEN bad.unlinked AND other.event_id IS NOT NULL THEN pg_catalog.jsonb_build_object(
                'problem', 'reordered',
                'detail', pg_catalog.format('Event %s links to event %s (chain position %s), which is not the event before it.',
                                            bad.event_id, other.event_id, other.chain_seq))
            WHEN bad.edited THEN pg_catalog.jsonb_build_object(
                'problem', 'edited',
                'detail', pg_catalog.format('The content of event %s does not match its hash.', bad.event_id))
            WHEN bad.before_seq IS NULL THEN pg_catalog.jsonb_build_object(
                'problem', 'deleted',
                'detail', pg_catalog.format('The %s events before event %s (chain position %s) are missing.',
                                            bad.chain_seq OPERATOR(pg_catalog.-) 1, bad.event_id, bad.chain_seq))
            ELSE pg_catalog.jsonb_build_object(
                'problem', 'deleted',
                'detail', pg_catalog.format('The events between event %s (chain position %s) and event %s (chain position %s) are missing.',
                                            bad.before_id, bad.before_seq, bad.event_id, bad.chain_seq)) END;
    END IF;

    SELECT pg_catalog.count(*) INTO n FROM mlops.audit_log l WHERE l.chain_seq OPERATOR(pg_catalog.>=) start_seq;
    SELECT l.event_id, l.chain_seq, l.hash INTO last FROM mlops.audit_log l
     WHERE l.chain_seq IS NOT NULL ORDER BY l.chain_seq DESC, l.event_id DESC LIMIT 1;
    SELECT * INTO head FROM mlops.audit_chain_head;
    IF head.chain_seq IS NOT NULL AND (last.chain_seq IS NULL OR head.chain_seq OPERATOR(pg_catalog.>) last.chain_seq) THEN
        RETURN pg_catalog.jsonb_build_object('ok', false, 'events', n, 'event_id', head.event_id,
                   'chain_seq', head.chain_seq, 'problem', 'deleted',
                   'detail', pg_catalog.format('The newest events, up to event %s (chain position %s), are missing.',
                                               head.event_id, head.chain_seq));
    ELSIF last.chain_seq IS NOT NULL AND (head.chain_seq IS DISTINCT FROM last.chain_seq
                                          OR head.event_id IS DISTINCT FROM last.event_id
                                          OR head.hash IS DISTINCT FROM last.hash) THEN
        RETURN pg_catalog.jsonb_build_object('ok', false, 'events', n, 'event_id', last.event_id,
                   'chain_seq', last.chain_seq, 'problem', 'edited',
                   'detail', pg_catalog.format('Event %s, the last of the chain, is not the head the chain recorded.',
                                               last.event_id));
    END IF;

    -- an event outside the chain was added with the chaining trigger disabled
    -- (events of the current transaction are chained when it commits)
    SELECT l.event_id INTO loose FROM mlops.audit_log l
     WHERE l.chain_seq IS NULL
       AND l.transaction_id IS DISTINCT FROM pg_catalog.pg_current_xact_id_if_assigned()
       AND (since IS NULL OR l.event_time OPERATOR(pg_catalog.>=) since)
     ORDER BY l.event_id LIMIT 1;
    IF loose IS NOT NULL THEN
        RETURN pg_catalog.jsonb_build_object('ok', false, 'events', n, 'event_id', loose, 'chain_seq', NULL,
                   'problem', 'unchained',
                   'detail', pg_catalog.format('Event %s is not in the chain.', loose));
    END IF;
    RETURN pg_catalog.jsonb_build_object('ok', true, 'events', n, 'last_event_id', last.event_id,
               'last_hash', pg_catalog.encode(last.hash, 'hex'));
END
$$;
REVOKE ALL ON FUNCTION mlops.verify_audit_log(timestamptz) FROM PUBLIC;
