-- mlops 0.1.0 -> 0.2.0 (ALTER EXTENSION mlops UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0, in the order the install pieces (sql/install/) make them; a fresh
-- 0.2.0 install and an updated 0.1.0 database must end up with the same schema (test/t/005_upgrade.pl
-- compares their pg_dump --schema-only).  What changed for users is in CHANGELOG.md.
\echo Use "ALTER EXTENSION mlops UPDATE TO '0.2.0'" to load this file. \quit

-- ==== common: sources, settings, security ====
-- version: the installed extension's version, the library's, libxgboost's and the build's git
-- revision; answers even when the library refuses to serve the installed schema (docs/operations.md).
CREATE FUNCTION mlops.version() RETURNS jsonb
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_version';
REVOKE ALL ON FUNCTION mlops.version() FROM PUBLIC;
-- 0.2.0 (issue 10): messages raised in SQL are bounded like those raised in C (00_schema.sql)
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

-- 0.2.0 (issue 10): the audit log is chained when each transaction commits (10_audit.sql,
-- src/common/audit_chain.c); non-auditors' audit_events shows only what they may see.
ALTER TABLE mlops.audit_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash bytea CHECK (pg_catalog.length(prev_hash) OPERATOR(pg_catalog.=) 32),
    ADD COLUMN hash bytea CHECK (pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32);

-- The head of the chain: its last event.  One row, made when the first
-- event is chained (none at install, so a dump restores it as it was).
CREATE TABLE mlops.audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chain_seq  bigint NOT NULL,
    event_id   bigint NOT NULL,
    hash       bytea NOT NULL CHECK (pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32)
);
REVOKE ALL ON mlops.audit_chain_head FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('mlops.audit_chain_head', '');

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

-- audit lets applications record their own events.
CREATE OR REPLACE FUNCTION mlops._impl_audit(action text, resource_type text, resource_id text, details jsonb)
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
CREATE OR REPLACE FUNCTION mlops.audit_events(action text DEFAULT NULL, since timestamptz DEFAULT NULL,
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

-- the events 0.1.0 recorded enter the chain in event_id order
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
DO $$
DECLARE
    e record;
    seq bigint := 0;
    prev bytea;
    last_id bigint;
BEGIN
    FOR e IN SELECT l.event_id FROM mlops.audit_log l ORDER BY l.event_id LOOP
        seq := seq OPERATOR(pg_catalog.+) 1;
        UPDATE mlops.audit_log l SET chain_seq = seq, prev_hash = prev, hash = mlops._audit_hash(l, seq, prev)
         WHERE l.event_id OPERATOR(pg_catalog.=) e.event_id
        RETURNING l.hash INTO prev;
        last_id := e.event_id;
    END LOOP;
    IF seq OPERATOR(pg_catalog.>) 0 THEN
        INSERT INTO mlops.audit_chain_head (chain_seq, event_id, hash) VALUES (seq, last_id, prev);
    END IF;
END
$$;
ALTER TABLE mlops.audit_log ENABLE TRIGGER audit_log_append_only;

-- ==== registry and model import ====
-- 0.2.0 (issue 10): experiments, runs and models have an owner (the role that created them; for
-- rows 0.1.0 made, created_by, or the extension owner when that role is gone); changing them
-- requires membership in it.  Names are bounded before an index sees them, stage names are not
-- aliases, messages are bounded, model_schema shows categories only to the model's owner.
ALTER TABLE mlops.experiments ADD COLUMN owner regrole;
UPDATE mlops.experiments t
   SET owner = COALESCE((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) t.created_by),
                        (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'))::pg_catalog.regrole;
ALTER TABLE mlops.experiments ALTER COLUMN owner SET NOT NULL;
ALTER TABLE mlops.runs ADD COLUMN owner regrole;
UPDATE mlops.runs t
   SET owner = COALESCE((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) t.created_by),
                        (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'))::pg_catalog.regrole;
ALTER TABLE mlops.runs ALTER COLUMN owner SET NOT NULL;
ALTER TABLE mlops.models ADD COLUMN owner regrole;
UPDATE mlops.models t
   SET owner = COALESCE((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) t.created_by),
                        (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'))::pg_catalog.regrole;
ALTER TABLE mlops.models ALTER COLUMN owner SET NOT NULL;

-- _run_for_update locks a run to change it: it checks that the run exists,
-- that the actor may change it (a member of its owner) and, when
-- must_be_running, that it is running.
CREATE OR REPLACE FUNCTION mlops._run_for_update(p_run_id bigint, must_be_running boolean)
    RETURNS mlops.runs
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
BEGIN
    SELECT * INTO r FROM mlops.runs WHERE run_id OPERATOR(pg_catalog.=) p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', COALESCE(p_run_id::text, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Start a run with mlops.start_run(); list runs with mlops.compare_runs().';
    END IF;
    PERFORM mlops._require_owner('run', r.run_id::pg_catalog.text, r.owner);
    IF must_be_running AND r.status OPERATOR(pg_catalog.<>) 'running' THEN
        RAISE EXCEPTION 'run % has ended', p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Its status is %s.', r.status),
                  HINT = 'Start a new run with mlops.start_run() to log more.';
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION mlops._run_for_update(bigint, boolean) FROM PUBLIC;

-- _check_experiment_name refuses an empty or over-long experiment name.
CREATE FUNCTION mlops._check_experiment_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NULL OR pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'experiment name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.length(name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'experiment name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Experiment names are at most 256 characters; this one has %s.',
                                             pg_catalog.length(name));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_experiment_name(text) FROM PUBLIC;

-- _check_metric_keys refuses empty and over-long metric keys.
CREATE FUNCTION mlops._check_metric_keys(keys text[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    too_long text[];
BEGIN
    IF '' OPERATOR(pg_catalog.=) ANY (keys) THEN
        RAISE EXCEPTION 'metric keys must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.array_agg(pg_catalog.format('%s characters: %s', pg_catalog.length(k), mlops._clip(k)))
      INTO too_long
      FROM pg_catalog.unnest(keys) k WHERE pg_catalog.length(k) OPERATOR(pg_catalog.>) 250;
    IF too_long IS NOT NULL THEN
        RAISE EXCEPTION 'metric keys are at most 250 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Too long: %s.', mlops._list(too_long));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_metric_keys(text[]) FROM PUBLIC;

-- create_experiment
CREATE OR REPLACE FUNCTION mlops._impl_create_experiment(name text, description text, tags jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM mlops._check_experiment_name(name);
    PERFORM mlops._require_object(tags, 'tags');
    INSERT INTO mlops.experiments (name, description, tags, created_by, owner)
    VALUES (name, description, tags, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
    ON CONFLICT DO NOTHING
    RETURNING experiment_id INTO id;
    IF id IS NULL THEN
        RAISE EXCEPTION 'experiment "%" already exists', mlops._clip(name)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Use another name, or start runs in it with mlops.start_run().';
    END IF;
    PERFORM mlops._audit_event('experiment.create', 'experiment', name,
                               pg_catalog.jsonb_build_object('experiment_id', id, 'name', name, 'tags', tags));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_create_experiment(text, text, jsonb) FROM PUBLIC;

-- start_run
CREATE OR REPLACE FUNCTION mlops._impl_start_run(experiment text, run_name text, tags jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    exp_id bigint;
    id bigint;
BEGIN
    PERFORM mlops._check_experiment_name(experiment);
    IF pg_catalog.length(run_name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'run name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Run names are at most 256 characters; this one has %s.',
                                             pg_catalog.length(run_name));
    END IF;
    PERFORM mlops._require_object(tags, 'tags');
    -- a run may be started in any experiment; it belongs to the role that starts it
    SELECT e.experiment_id INTO exp_id FROM mlops.experiments e WHERE e.name OPERATOR(pg_catalog.=) experiment;
    IF exp_id IS NULL THEN
        INSERT INTO mlops.experiments (name, created_by, owner)
        VALUES (experiment, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
        ON CONFLICT DO NOTHING RETURNING experiment_id INTO exp_id;
        IF exp_id IS NULL THEN      -- created concurrently
            SELECT e.experiment_id INTO STRICT exp_id FROM mlops.experiments e
             WHERE e.name OPERATOR(pg_catalog.=) experiment;
        ELSE
            PERFORM mlops._audit_event('experiment.create', 'experiment', experiment,
                                       pg_catalog.jsonb_build_object('experiment_id', exp_id, 'name', experiment,
                                                                     'tags', '{}'::jsonb));
        END IF;
    END IF;
    INSERT INTO mlops.runs (experiment_id, run_name, tags, created_by, owner)
    VALUES (exp_id, COALESCE(run_name, ''), tags, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)
    RETURNING run_id INTO id;
    IF run_name IS NULL THEN
        UPDATE mlops.runs SET run_name = 'run-' OPERATOR(pg_catalog.||) id WHERE run_id OPERATOR(pg_catalog.=) id;
    END IF;
    PERFORM mlops._audit_event('run.start', 'run', id::text,
                               pg_catalog.jsonb_build_object('experiment', experiment,
                                   'run_name', COALESCE(run_name, 'run-' OPERATOR(pg_catalog.||) id)));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_start_run(text, text, jsonb) FROM PUBLIC;

-- log_params: write-once per key
CREATE OR REPLACE FUNCTION mlops._impl_log_params(run_id bigint, params jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.runs;
    conflicts text[];
BEGIN
    PERFORM mlops._require_object(params, 'params');
    r := mlops._run_for_update(run_id, true);
    SELECT pg_catalog.array_agg(pg_catalog.format('%s: logged %s, now %s', mlops._clip(n.key),
                                                  mlops._clip(o.value::pg_catalog.text),
                                                  mlops._clip(n.value::pg_catalog.text)) ORDER BY n.key)
      INTO conflicts
      FROM pg_catalog.jsonb_each(params) n
      JOIN pg_catalog.jsonb_each(r.params) o ON o.key OPERATOR(pg_catalog.=) n.key
     WHERE o.value OPERATOR(pg_catalog.<>) n.value;
    IF conflicts IS NOT NULL THEN
        RAISE EXCEPTION 'parameters of run % cannot be changed', run_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = mlops._list(conflicts) OPERATOR(pg_catalog.||) '.',
                  HINT = 'Parameters are write-once; start a new run to try other values.';
    END IF;
    UPDATE mlops.runs SET params = r.params OPERATOR(pg_catalog.||) params
     WHERE runs.run_id OPERATOR(pg_catalog.=) r.run_id;
    PERFORM mlops._audit_event('run.log_params', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('params', params));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_params(bigint, jsonb) FROM PUBLIC;

-- log_metrics: appends to the history and keeps the latest value per key
CREATE OR REPLACE FUNCTION mlops._impl_log_metrics(run_id bigint, metrics jsonb, step integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    bad text[];
    ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    PERFORM mlops._require_object(metrics, 'metrics');
    IF step IS NULL THEN
        RAISE EXCEPTION 'step must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := mlops._run_for_update(run_id, true);
    PERFORM mlops._check_metric_keys(ARRAY(SELECT pg_catalog.jsonb_object_keys(metrics)));
    SELECT pg_catalog.array_agg(pg_catalog.format('%s = %s', m.key, mlops._clip(m.value::pg_catalog.text)) ORDER BY m.key)
      INTO bad
      FROM pg_catalog.jsonb_each(metrics) m
     WHERE mlops._metric_value(m.value) IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'metric values must be numbers'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Not numeric: %s.', mlops._list(bad)),
                  HINT = 'Use JSON numbers, or the strings "NaN", "Infinity" and "-Infinity".';
    END IF;
    INSERT INTO mlops.run_metrics (run_id, key, value, step, logged_at)
    SELECT r.run_id, m.key, mlops._metric_value(m.value), step, ts
      FROM pg_catalog.jsonb_each(metrics) m;
    INSERT INTO mlops.run_latest_metrics AS l (run_id, key, value, step, logged_at)
    SELECT r.run_id, m.key, mlops._metric_value(m.value), step, ts
      FROM pg_catalog.jsonb_each(metrics) m
    ON CONFLICT ON CONSTRAINT run_latest_metrics_pkey DO UPDATE
       SET value = EXCLUDED.value, step = EXCLUDED.step, logged_at = EXCLUDED.logged_at
     WHERE l.step OPERATOR(pg_catalog.<=) EXCLUDED.step;
    PERFORM mlops._audit_event('run.log_metrics', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('keys', (SELECT pg_catalog.jsonb_agg(k ORDER BY k)
                                                                        FROM pg_catalog.jsonb_object_keys(metrics) k),
                                                             'step', step));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_metrics(bigint, jsonb, integer) FROM PUBLIC;

-- _log_metric_history: logs many (key, step, value) rows of a running run in
-- one call and one run.log_metrics audit event (keys, step range, row count);
-- mlops.train logs its per-round evaluations and final metrics with it.  The
-- latest value per key ends as logging the rows one by one with log_metrics,
-- in array order, would leave it: the highest step wins, and among equal
-- steps the last row.  Internal: only the extension owner may run it.
CREATE OR REPLACE FUNCTION mlops._log_metric_history(run_id bigint, keys text[], steps integer[],
                                          metric_values float8[])
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    n integer := pg_catalog.cardinality(keys);
    ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF keys IS NULL OR steps IS NULL OR metric_values IS NULL
       OR pg_catalog.array_position(keys, NULL) IS NOT NULL
       OR pg_catalog.array_position(steps, NULL) IS NOT NULL
       OR pg_catalog.array_position(metric_values, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'metric history must not contain NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass one key, one step and one value per row; NaN and infinities are values.';
    END IF;
    IF pg_catalog.cardinality(steps) OPERATOR(pg_catalog.<>) n
       OR pg_catalog.cardinality(metric_values) OPERATOR(pg_catalog.<>) n THEN
        RAISE EXCEPTION 'metric history arrays must have the same length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Lengths: keys %s, steps %s, values %s.', n,
                                             pg_catalog.cardinality(steps), pg_catalog.cardinality(metric_values));
    END IF;
    PERFORM mlops._check_metric_keys(keys);
    r := mlops._run_for_update(run_id, true);
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    INSERT INTO mlops.run_metrics (run_id, key, value, step, logged_at)
    SELECT r.run_id, h.key, h.value, h.step, ts
      FROM ROWS FROM (pg_catalog.unnest(keys), pg_catalog.unnest(steps), pg_catalog.unnest(metric_values))
           WITH ORDINALITY AS h(key, step, value, ord)
     ORDER BY h.ord;
    INSERT INTO mlops.run_latest_metrics AS l (run_id, key, value, step, logged_at)
    SELECT DISTINCT ON (h.key) r.run_id, h.key, h.value, h.step, ts
      FROM ROWS FROM (pg_catalog.unnest(keys), pg_catalog.unnest(steps), pg_catalog.unnest(metric_values))
           WITH ORDINALITY AS h(key, step, value, ord)
     ORDER BY h.key, h.step DESC, h.ord DESC
    ON CONFLICT ON CONSTRAINT run_latest_metrics_pkey DO UPDATE
       SET value = EXCLUDED.value, step = EXCLUDED.step, logged_at = EXCLUDED.logged_at
     WHERE l.step OPERATOR(pg_catalog.<=) EXCLUDED.step;
    PERFORM mlops._audit_event('run.log_metrics', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object(
                                   'keys', (SELECT pg_catalog.jsonb_agg(k ORDER BY k)
                                              FROM (SELECT DISTINCT k FROM pg_catalog.unnest(keys) k) d),
                                   'min_step', (SELECT pg_catalog.min(s) FROM pg_catalog.unnest(steps) s),
                                   'max_step', (SELECT pg_catalog.max(s) FROM pg_catalog.unnest(steps) s),
                                   'rows', n));
END
$$;
REVOKE ALL ON FUNCTION mlops._log_metric_history(bigint, text[], integer[], float8[]) FROM PUBLIC;

-- end_run
CREATE OR REPLACE FUNCTION mlops._impl_end_run(run_id bigint, status text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.runs;
    st text := pg_catalog.lower(status);
BEGIN
    IF st IS NULL OR st OPERATOR(pg_catalog.<>) ALL (ARRAY['finished', 'failed', 'killed']) THEN
        RAISE EXCEPTION 'invalid run status %', COALESCE(mlops._clip(pg_catalog.quote_literal(status)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use finished, failed or killed.';
    END IF;
    r := mlops._run_for_update(run_id, true);
    UPDATE mlops.runs SET status = st, ended_at = pg_catalog.now()
     WHERE runs.run_id OPERATOR(pg_catalog.=) r.run_id;
    PERFORM mlops._audit_event('run.end', 'run', r.run_id::text,
                               pg_catalog.jsonb_build_object('status', st));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_end_run(bigint, text) FROM PUBLIC;

-- compare_runs: the runs of an experiment with their latest metrics,
-- ordered by one metric (runs without it last), then by run_id.
CREATE OR REPLACE FUNCTION mlops.compare_runs(experiment text, metric text DEFAULT NULL, ascending boolean DEFAULT false)
    RETURNS TABLE(run_id bigint, run_name text, status text, params jsonb, metrics jsonb,
                  started_at timestamptz, ended_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    exp_id bigint;
BEGIN
    SELECT e.experiment_id INTO exp_id FROM mlops.experiments e WHERE e.name OPERATOR(pg_catalog.=) experiment;
    IF exp_id IS NULL THEN
        RAISE EXCEPTION 'experiment "%" does not exist', mlops._clip(experiment)
            USING ERRCODE = 'undefined_object',
                  HINT = COALESCE('Existing experiments: ' OPERATOR(pg_catalog.||)
                                  NULLIF(mlops._list(ARRAY(SELECT e.name FROM mlops.experiments e ORDER BY e.name)), '')
                                  OPERATOR(pg_catalog.||) '.',
                                  'No experiment exists yet; create one with mlops.create_experiment().');
    END IF;
    RETURN QUERY
        SELECT r.run_id, r.run_name, r.status, r.params,
               COALESCE((SELECT pg_catalog.jsonb_object_agg(l.key, pg_catalog.to_jsonb(l.value))
                           FROM mlops.run_latest_metrics l WHERE l.run_id OPERATOR(pg_catalog.=) r.run_id),
                        '{}'::jsonb),
               r.started_at, r.ended_at
          FROM mlops.runs r
          LEFT JOIN mlops.run_latest_metrics m
                 ON m.run_id OPERATOR(pg_catalog.=) r.run_id AND m.key OPERATOR(pg_catalog.=) metric
         WHERE r.experiment_id OPERATOR(pg_catalog.=) exp_id
         ORDER BY CASE WHEN ascending THEN m.value END ASC NULLS LAST,
                  CASE WHEN NOT ascending THEN m.value END DESC NULLS LAST,
                  r.run_id;
END
$$;
REVOKE ALL ON FUNCTION mlops.compare_runs(text, text, boolean) FROM PUBLIC;

-- _canonical_stage maps a stage name, in any case, to its stored spelling.
CREATE OR REPLACE FUNCTION mlops._canonical_stage(stage text) RETURNS text
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
CREATE OR REPLACE FUNCTION mlops._model_for_update(model_name text) RETURNS bigint
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
CREATE OR REPLACE FUNCTION mlops._models_hint() RETURNS text
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
CREATE OR REPLACE FUNCTION mlops._versions_hint(p_model_id bigint) RETURNS text
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

-- _register_model_version stores a new version (stage None) of a model,
-- creating the model (owned by the actor) when needed; adding a version to
-- an existing model requires that the actor may change it.  Internal:
-- training and import_model call it as the extension owner; the bytes must
-- already be validated.
CREATE OR REPLACE FUNCTION mlops._register_model_version(name text, model_data bytea, run_id bigint, task text,
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
CREATE OR REPLACE FUNCTION mlops._version_for_update(model_name text, p_version integer)
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
CREATE OR REPLACE FUNCTION mlops._impl_transition_stage(name text, version integer, stage text, archive_existing boolean)
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
CREATE OR REPLACE FUNCTION mlops._impl_set_alias(name text, alias text, version integer)
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

-- model_info: what an inference service's /model/info returns, with the
-- model's owner.
CREATE OR REPLACE FUNCTION mlops.model_info(model text) RETURNS jsonb
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
               'stage_changed_at', v.stage_changed_at)
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

CREATE OR REPLACE FUNCTION mlops.model_schema(model text) RETURNS jsonb
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.model_schema(text) FROM PUBLIC;

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
        RAISE EXCEPTION 'cannot drop version % of model "%" because it is in Production', version, mlops._clip(name)
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
-- The streaming ADWIN functions take verbs first: adwin_create, adwin_update
-- and adwin_drop are now create_adwin, update_adwin and drop_adwin.
DROP FUNCTION mlops.adwin_create(text, float8);
DROP FUNCTION mlops.adwin_update(text, float8);
DROP FUNCTION mlops.adwin_drop(text);
CREATE FUNCTION mlops.create_adwin(name text, delta float8 DEFAULT 0.002)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_create_adwin';
REVOKE ALL ON FUNCTION mlops.create_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.update_adwin(name text, value float8)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_update_adwin';
REVOKE ALL ON FUNCTION mlops.update_adwin(text, float8) FROM PUBLIC;

CREATE FUNCTION mlops.drop_adwin(name text)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_drop_adwin';
REVOKE ALL ON FUNCTION mlops.drop_adwin(text) FROM PUBLIC;

-- _check_source runs the checks of the source resolver (src/common/source.c)
-- that need only the text, for a source stored now and read later by its
-- reader (such as the current-data source of mlops.set_monitor_drift): an
-- empty, file-like, multi-statement, malformed or writing source raises the
-- resolver's error.
CREATE FUNCTION mlops._check_source(source text)
    RETURNS void
    LANGUAGE C STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_source';
REVOKE ALL ON FUNCTION mlops._check_source(text) FROM PUBLIC;

-- _source_query returns the query the source resolver makes of a source
-- (SELECT * FROM schema.relation, or the source's single read-only query),
-- resolved as the caller with the resolver's checks and errors, for SQL code
-- that reads a source itself.
CREATE FUNCTION mlops._source_query(source text)
    RETURNS text
    LANGUAGE C STRICT STABLE
    AS 'MODULE_PATHNAME', 'mlops_source_query';
REVOKE ALL ON FUNCTION mlops._source_query(text) FROM PUBLIC;

-- ---- 0.2.0: owners, stored drift sources, alert claims (as in sql/install) ----
-- 0.2.0: drift references and ADWIN detectors are owned (docs/security.md#ownership): the role that
-- created them, or the extension owner when that role no longer exists
ALTER TABLE mlops.drift_references ADD COLUMN owner regrole;
UPDATE mlops.drift_references SET owner = COALESCE(pg_catalog.to_regrole(created_by),
    (SELECT n.nspowner::regrole FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'));
ALTER TABLE mlops.drift_references ALTER COLUMN owner SET NOT NULL;
ALTER TABLE mlops.adwin_detectors ADD COLUMN owner regrole;
UPDATE mlops.adwin_detectors SET owner = COALESCE(pg_catalog.to_regrole(created_by),
    (SELECT n.nspowner::regrole FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'));
ALTER TABLE mlops.adwin_detectors ALTER COLUMN owner SET NOT NULL;

CREATE OR REPLACE FUNCTION mlops._impl_drop_drift_reference(name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r_owner regrole;
BEGIN
    SELECT r.owner INTO r_owner FROM mlops.drift_references r WHERE r.name OPERATOR(pg_catalog.=) name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'drift reference "%" does not exist', pg_catalog.left(name, 200)
            USING ERRCODE = 'undefined_object',
                  HINT = 'List references with SELECT name FROM mlops.drift_references.';
    END IF;
    PERFORM mlops._require_owner('drift_reference', name, r_owner);
    DELETE FROM mlops.drift_references r WHERE r.name OPERATOR(pg_catalog.=) name;
    PERFORM mlops._audit_event('drift.reference.drop', 'drift_reference', name, '{}');
END
$$;
-- ---- end of owners, stored drift sources, alert claims ----

-- ==== monitoring and alerts ====
-- 0.2.0: classification monitors learn their model's classes
ALTER TABLE mlops.monitors ADD COLUMN classes text[], ADD COLUMN classes_version integer,
    ADD COLUMN classes_version_created_at timestamptz;

CREATE FUNCTION mlops._model_classes(input_schema jsonb)
    RETURNS text[]
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_model_classes';
REVOKE ALL ON FUNCTION mlops._model_classes(jsonb) FROM PUBLIC;

CREATE FUNCTION mlops._check_labels(model text, version integer, classes text[],
                                    prediction float8, actual float8)
    RETURNS void
    LANGUAGE C IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_check_labels';
REVOKE ALL ON FUNCTION mlops._check_labels(text, integer, text[], float8, float8) FROM PUBLIC;

CREATE FUNCTION mlops._monitor_classes(m mlops.monitors)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cur_version integer;
    cur_created timestamptz;
BEGIN
    IF m.problem_type OPERATOR(pg_catalog.<>) 'classification' THEN
        RETURN m;
    END IF;
    SELECT v.version, v.created_at INTO cur_version, cur_created
      FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
     WHERE mo.name OPERATOR(pg_catalog.=) m.model
     ORDER BY v.stage OPERATOR(pg_catalog.=) 'Production' DESC, v.version DESC
     LIMIT 1;
    IF cur_version IS NOT DISTINCT FROM m.classes_version
       AND cur_created IS NOT DISTINCT FROM m.classes_version_created_at THEN
        RETURN m;
    END IF;
    m.classes := (SELECT mlops._model_classes(v.input_schema)
                    FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
                   WHERE mo.name OPERATOR(pg_catalog.=) m.model AND v.version OPERATOR(pg_catalog.=) cur_version);
    m.classes_version := cur_version;
    m.classes_version_created_at := cur_created;
    IF NOT pg_catalog.current_setting('transaction_read_only')::boolean THEN
        UPDATE mlops.monitors mm
           SET classes = m.classes, classes_version = m.classes_version,
               classes_version_created_at = m.classes_version_created_at
         WHERE mm.monitor_id OPERATOR(pg_catalog.=) (SELECT l.monitor_id FROM mlops.monitors l
                                                      WHERE l.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
                                                        FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_classes(mlops.monitors) FROM PUBLIC;

-- ---- 0.2.0: owners, stored drift sources, alert claims (as in sql/install) ----
-- 0.2.0: monitors, alert rules and alerts are owned (docs/security.md#ownership).  A monitor or a
-- rule belongs to the role that created it (the extension owner when that role no longer exists), an
-- alert to its rule's owner (the extension owner when the rule is gone).  A monitor's drift source
-- runs as the role that stored it: the last role the audit log shows setting it (none known: the
-- source does not run until it is set again), with the default search_path.
ALTER TABLE mlops.monitors ADD COLUMN owner regrole, ADD COLUMN drift_source_role regrole,
    ADD COLUMN drift_source_search_path text;
UPDATE mlops.monitors SET owner = COALESCE(pg_catalog.to_regrole(created_by),
    (SELECT n.nspowner::regrole FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'));
ALTER TABLE mlops.monitors ALTER COLUMN owner SET NOT NULL;
UPDATE mlops.monitors m
   SET drift_source_role = (SELECT pg_catalog.to_regrole(a.user_name) FROM mlops.audit_log a
                             WHERE a.action OPERATOR(pg_catalog.=) 'monitor.set_drift'
                               AND a.resource_id OPERATOR(pg_catalog.=) m.model
                             ORDER BY a.event_id DESC LIMIT 1),
       drift_source_search_path = '"$user", public, pg_temp'
 WHERE m.drift_source IS NOT NULL;
ALTER TABLE mlops.alert_rules ADD COLUMN owner regrole;
UPDATE mlops.alert_rules SET owner = COALESCE(pg_catalog.to_regrole(created_by),
    (SELECT n.nspowner::regrole FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'));
ALTER TABLE mlops.alert_rules ALTER COLUMN owner SET NOT NULL;
ALTER TABLE mlops.alerts ADD COLUMN owner regrole;
UPDATE mlops.alerts a SET owner = COALESCE((SELECT r.owner FROM mlops.alert_rules r WHERE r.rule_id OPERATOR(pg_catalog.=) a.rule_id),
    (SELECT n.nspowner::regrole FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'mlops'));
ALTER TABLE mlops.alerts ALTER COLUMN owner SET NOT NULL;

DROP FUNCTION mlops._impl_set_monitor_drift(text, text, text);
DROP FUNCTION mlops._monitor_pipeline_settings(text);

CREATE FUNCTION mlops._bounded_list(items text[])
    RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_bounded_list';
REVOKE ALL ON FUNCTION mlops._bounded_list(text[]) FROM PUBLIC;

CREATE FUNCTION mlops._check_prediction_id(prediction_id text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.length(prediction_id) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'prediction_id is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters; the limit is 256.', pg_catalog.length(prediction_id)),
                  HINT = 'Use a key such as an order number or a UUID.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_prediction_id(text) FROM PUBLIC;

CREATE FUNCTION mlops._monitor_to_change(p_model text, for_share boolean DEFAULT false)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m mlops.monitors;
BEGIN
    IF for_share THEN
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR SHARE;
    ELSE
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no monitor', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_monitor(model, problem_type, baseline_metrics).';
    END IF;
    PERFORM mlops._require_owner('monitor', p_model, m.owner);
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._monitor_to_change(text, boolean) FROM PUBLIC;

CREATE FUNCTION mlops._impl_set_monitor_drift(model text, reference text, source text, search_path text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model);
BEGIN
    IF reference IS NOT NULL AND (source IS NULL OR pg_catalog.btrim(source) OPERATOR(pg_catalog.=) '') THEN
        RAISE EXCEPTION 'a drift reference needs a source of current data'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the table, view or query whose rows mlops.detect_drift() compares with the reference.';
    END IF;
    IF reference IS NOT NULL AND pg_catalog.length(reference) OPERATOR(pg_catalog.>) 128 THEN
        RAISE EXCEPTION 'drift reference name is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters; the limit is 128.', pg_catalog.length(reference));
    END IF;
    IF reference IS NOT NULL THEN
        PERFORM mlops._check_source(source);
    END IF;
    UPDATE mlops.monitors
       SET drift_reference = reference,
           drift_source = CASE WHEN reference IS NULL THEN NULL ELSE source END,
           drift_source_role = CASE WHEN reference IS NULL THEN NULL ELSE mlops.current_actor()::regrole END,
           drift_source_search_path = CASE
               WHEN reference IS NULL THEN NULL
               WHEN search_path OPERATOR(pg_catalog.~) '(^|[ ,"])pg_temp([ ,"]|$)' THEN search_path
               ELSE pg_catalog.concat_ws(', ', NULLIF(search_path, ''), 'pg_temp') END
     WHERE monitors.monitor_id OPERATOR(pg_catalog.=) m.monitor_id;
    PERFORM mlops._audit_event('monitor.set_drift', 'monitor', model,
                               pg_catalog.jsonb_build_object('reference', reference, 'source', source));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_monitor_drift(text, text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.check_monitor_drift(model text)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_check_monitor_drift';
REVOKE ALL ON FUNCTION mlops.check_monitor_drift(text) FROM PUBLIC;

CREATE FUNCTION mlops.alert(alert_id bigint)
    RETURNS jsonb
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object(
               'alert_id', a.alert_id, 'rule_id', a.rule_id, 'rule_name', a.rule_name,
               'severity', a.severity, 'condition', a.condition, 'source', a.source,
               'metrics', a.metrics, 'labels', a.labels, 'fired_at', a.fired_at,
               'acknowledged', a.acknowledged, 'acknowledged_at', a.acknowledged_at,
               'acknowledged_by', a.acknowledged_by, 'resolved_at', a.resolved_at,
               'resolved_by', a.resolved_by, 'owner', a.owner::pg_catalog.text)
      FROM mlops.alerts a
     WHERE a.alert_id OPERATOR(pg_catalog.=) $1
$$;
REVOKE ALL ON FUNCTION mlops.alert(bigint) FROM PUBLIC;

CREATE FUNCTION mlops._monitor_pipeline_settings(p_model text)
    RETURNS TABLE (monitored boolean, drift_reference text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT m.monitor_id IS NOT NULL, m.drift_reference
      FROM (SELECT 1) one LEFT JOIN mlops.monitors m ON m.model OPERATOR(pg_catalog.=) p_model
$$;
REVOKE ALL ON FUNCTION mlops._monitor_pipeline_settings(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION mlops._monitor_for(p_model text, for_update boolean DEFAULT false)
    RETURNS mlops.monitors
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m mlops.monitors;
BEGIN
    IF for_update THEN
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model FOR UPDATE;
    ELSE
        SELECT * INTO m FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) p_model;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no monitor', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create one with mlops.create_monitor(model, problem_type, baseline_metrics).';
    END IF;
    RETURN m;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_create_monitor(model text, problem_type text, baseline_metrics jsonb,
                                           window_size integer, tolerance float8)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    bad text;
    m mlops.monitors;
BEGIN
    IF model IS NULL OR model OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid model name %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(model, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Model names are 1 to 128 letters, digits, "_", "." and "-", as in the registry.';
    END IF;
    IF problem_type IS NULL OR problem_type OPERATOR(pg_catalog.<>) ALL (ARRAY['classification', 'regression']) THEN
        RAISE EXCEPTION 'invalid problem type %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(problem_type, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''classification'' or ''regression''.';
    END IF;
    PERFORM mlops._require_object(baseline_metrics, 'baseline_metrics');
    IF baseline_metrics OPERATOR(pg_catalog.=) '{}'::jsonb THEN
        RAISE EXCEPTION 'baseline_metrics must name at least one metric'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE problem_type WHEN 'classification'
                         THEN 'For example ''{"accuracy": 0.92, "f1_score": 0.89}''.'
                         ELSE 'For example ''{"rmse": 3.5, "r2": 0.8}''.' END;
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.quote_literal(b.key) ORDER BY b.key)) INTO bad
      FROM pg_catalog.jsonb_each(baseline_metrics) b
     WHERE mlops._monitor_metric_direction(problem_type, b.key) IS NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown % metric %', problem_type, bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE problem_type WHEN 'classification'
                         THEN 'Classification metrics are accuracy, precision, recall, f1_score and roc_auc.'
                         ELSE 'Regression metrics are mae, mse, rmse, r2 and mape.' END;
    END IF;
    SELECT mlops._bounded_list(pg_catalog.array_agg(pg_catalog.format('%s: %s', b.key, b.value) ORDER BY b.key)) INTO bad
      FROM pg_catalog.jsonb_each(baseline_metrics) b
     WHERE pg_catalog.jsonb_typeof(b.value) OPERATOR(pg_catalog.<>) 'number';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'baseline metric values must be numbers'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', bad);
    END IF;
    IF window_size IS NULL OR window_size OPERATOR(pg_catalog.<) 1 OR window_size OPERATOR(pg_catalog.>) 10000000 THEN
        RAISE EXCEPTION 'window_size must be between 1 and 10000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(window_size::text, 'NULL'));
    END IF;
    IF tolerance IS NULL OR NOT (tolerance OPERATOR(pg_catalog.>=) 0 AND tolerance OPERATOR(pg_catalog.<) 'Infinity') THEN
        RAISE EXCEPTION 'tolerance must be a finite number of at least 0'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(tolerance::text, 'NULL')),
                  HINT = 'The tolerance is relative: 0.05 allows a metric to be 5% worse than its baseline.';
    END IF;
    IF EXISTS (SELECT 1 FROM mlops.monitors WHERE monitors.model OPERATOR(pg_catalog.=) model) THEN
        RAISE EXCEPTION 'model % already has a monitor', pg_catalog.quote_literal(model)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Drop it first with mlops.drop_monitor(model), which also drops its recorded predictions.';
    END IF;
    INSERT INTO mlops.monitors (model, problem_type, baseline_metrics, window_size, tolerance, created_by, owner)
    VALUES (model, problem_type, baseline_metrics, window_size, tolerance, mlops.current_actor(),
            mlops.current_actor()::regrole)
    RETURNING * INTO m;
    m := mlops._monitor_classes(m);
    PERFORM mlops._audit_event('monitor.create', 'monitor', model,
        pg_catalog.jsonb_build_object('monitor_id', m.monitor_id, 'problem_type', problem_type,
                                      'baseline_metrics', baseline_metrics,
                                      'window_size', window_size, 'tolerance', tolerance,
                                      'classes', m.classes, 'classes_version', m.classes_version));
    RETURN m.monitor_id;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_drop_monitor(model text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model);
BEGIN
    DELETE FROM mlops.monitors WHERE monitors.monitor_id OPERATOR(pg_catalog.=) m.monitor_id;
    PERFORM mlops._audit_event('monitor.drop', 'monitor', model,
                               pg_catalog.jsonb_build_object('monitor_id', m.monitor_id));
END
$$;

CREATE OR REPLACE FUNCTION mlops.set_monitor_drift(model text, reference text, source text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_set_monitor_drift';

CREATE OR REPLACE FUNCTION mlops._impl_record_prediction(model text, prediction float8, actual float8,
                                              prediction_id text, recorded_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_to_change(model, true));
BEGIN
    PERFORM mlops._check_observation(m.problem_type, prediction, actual);
    PERFORM mlops._check_labels(model, m.classes_version, m.classes, prediction, actual);
    PERFORM mlops._check_prediction_id(prediction_id);
    IF recorded_at IS NULL OR NOT pg_catalog.isfinite(recorded_at) THEN
        RAISE EXCEPTION 'recorded_at must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(recorded_at::text, 'NULL'));
    END IF;
    INSERT INTO mlops.monitor_predictions (monitor_id, prediction_id, prediction, actual, recorded_at, labelled_at)
    VALUES (m.monitor_id, prediction_id, prediction, actual, recorded_at,
            CASE WHEN actual IS NOT NULL THEN pg_catalog.now() END)
    ON CONFLICT ON CONSTRAINT monitor_predictions_prediction_id_key DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'prediction % of model % is already recorded',
                        pg_catalog.quote_literal(prediction_id), pg_catalog.quote_literal(model)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Prediction ids are unique per model; send its label with mlops.record_actual().';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_record_actual(model text, prediction_id text, actual float8)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_classes(mlops._monitor_to_change(model, true));
    p float8;
BEGIN
    IF prediction_id IS NULL OR actual IS NULL THEN
        RAISE EXCEPTION 'prediction_id and actual must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mlops._check_prediction_id(prediction_id);
    SELECT mp.prediction INTO p FROM mlops.monitor_predictions mp
     WHERE mp.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
       AND mp.prediction_id OPERATOR(pg_catalog.=) prediction_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % has no prediction %', pg_catalog.quote_literal(model),
                        pg_catalog.quote_literal(prediction_id)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Record it first with mlops.record_prediction(model, prediction, prediction_id => ...).';
    END IF;
    PERFORM mlops._check_observation(m.problem_type, p, actual);
    PERFORM mlops._check_labels(model, m.classes_version, m.classes, NULL, actual);
    UPDATE mlops.monitor_predictions mp SET actual = actual, labelled_at = pg_catalog.now()
     WHERE mp.monitor_id OPERATOR(pg_catalog.=) m.monitor_id
       AND mp.prediction_id OPERATOR(pg_catalog.=) prediction_id;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_check_degradation(model text)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.monitors := mlops._monitor_to_change(model, true);
    metrics jsonb := mlops.model_metrics(model);
    labelled bigint := (metrics OPERATOR(pg_catalog.->>) 'rows')::bigint;
    min_rows integer := LEAST(pg_catalog.current_setting('mlops.monitor_min_rows')::integer, m.window_size);
    cur jsonb := '{}';
    changes jsonb := '{}';
    not_compared text[] := '{}';
    degraded text[] := '{}';
    b record;
    c float8;
    change float8;
    dir integer;
    status text;
    result jsonb;
BEGIN
    FOR b IN SELECT e.key, (e.value #>> '{}')::float8 AS value
               FROM pg_catalog.jsonb_each(m.baseline_metrics) e ORDER BY e.key LOOP
        IF pg_catalog.jsonb_typeof(metrics OPERATOR(pg_catalog.->) b.key) OPERATOR(pg_catalog.<>) 'number' THEN
            not_compared := not_compared OPERATOR(pg_catalog.||) b.key;
            CONTINUE;
        END IF;
        c := (metrics OPERATOR(pg_catalog.->>) b.key)::float8;
        dir := mlops._monitor_metric_direction(m.problem_type, b.key);
        cur := cur OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(b.key, c);
        -- relative change in the "better" direction; absolute when the baseline is 0
        change := CASE WHEN b.value OPERATOR(pg_catalog.=) 0 THEN (c OPERATOR(pg_catalog.-) b.value)
                       ELSE (c OPERATOR(pg_catalog.-) b.value) OPERATOR(pg_catalog./) pg_catalog.abs(b.value) END;
        changes := changes OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(b.key, change);
        IF (dir OPERATOR(pg_catalog.*) change) OPERATOR(pg_catalog.<) (OPERATOR(pg_catalog.-) m.tolerance) THEN
            degraded := degraded OPERATOR(pg_catalog.||) b.key;
        END IF;
    END LOOP;

    IF labelled OPERATOR(pg_catalog.<) min_rows OR cur OPERATOR(pg_catalog.=) '{}'::jsonb THEN
        status := 'insufficient_data';
        degraded := '{}';
        cur := '{}';
        changes := '{}';
    ELSIF pg_catalog.cardinality(degraded) OPERATOR(pg_catalog.>) 0 THEN
        status := 'degraded';
    ELSE
        status := 'ok';
    END IF;

    result := pg_catalog.jsonb_build_object(
        'model', model,
        'degradation_detected', status OPERATOR(pg_catalog.=) 'degraded',
        'status', status,
        'degraded_metrics', pg_catalog.to_jsonb(degraded),
        'current', cur,
        'baseline', m.baseline_metrics,
        'relative_change', changes,
        'tolerance', m.tolerance,
        'labelled_rows', labelled,
        'min_rows', min_rows);
    IF labelled OPERATOR(pg_catalog.<) min_rows THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('message',
            pg_catalog.format('%s labelled predictions in the window, at least %s are needed to judge',
                              labelled, min_rows));
    ELSIF pg_catalog.cardinality(not_compared) OPERATOR(pg_catalog.>) 0 THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('not_compared', pg_catalog.to_jsonb(not_compared),
            'message', COALESCE(metrics OPERATOR(pg_catalog.->>) 'roc_auc_note', 'metric not available'));
    END IF;
    INSERT INTO mlops.monitor_checks (monitor_id, status, degradation_detected, degraded_metrics, labelled_rows, result)
    VALUES (m.monitor_id, status, status OPERATOR(pg_catalog.=) 'degraded', degraded, labelled, result);
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_add_alert_rule(rule_id text, name text, condition text, severity text,
                                           cooldown interval, labels jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    names text[];
BEGIN
    IF rule_id IS NULL OR rule_id OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid rule id %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(rule_id, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Rule ids are 1 to 128 letters, digits, "_", "." and "-", such as ''high_latency''.';
    END IF;
    IF name IS NULL OR pg_catalog.btrim(name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'alert rule name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF condition IS NULL THEN
        RAISE EXCEPTION 'alert condition must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    names := mlops._alert_condition_metrics(condition);
    IF severity IS NULL OR severity OPERATOR(pg_catalog.<>) ALL (ARRAY['info', 'warning', 'critical']) THEN
        RAISE EXCEPTION 'invalid severity %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(severity, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Severities are info, warning and critical.';
    END IF;
    IF cooldown IS NULL OR cooldown OPERATOR(pg_catalog.<) '0'::interval THEN
        RAISE EXCEPTION 'cooldown must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(cooldown::text, 'NULL')),
                  HINT = 'Use ''0'' to fire on every check, or an interval such as ''15 minutes''.';
    END IF;
    PERFORM mlops._require_object(labels, 'labels');
    IF EXISTS (SELECT 1 FROM mlops.alert_rules r WHERE r.rule_id OPERATOR(pg_catalog.=) rule_id) THEN
        RAISE EXCEPTION 'alert rule % already exists', pg_catalog.quote_literal(rule_id)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Drop it first with mlops.drop_alert_rule(rule_id).';
    END IF;
    INSERT INTO mlops.alert_rules (rule_id, name, condition, metrics, severity, cooldown, labels, created_by, owner)
    VALUES (rule_id, name, condition, names, severity, cooldown, labels, mlops.current_actor(),
            mlops.current_actor()::regrole);
    PERFORM mlops._audit_event('alert_rule.add', 'alert_rule', rule_id,
        pg_catalog.jsonb_build_object('name', name, 'condition', condition, 'severity', severity,
                                      'cooldown', cooldown::text, 'labels', labels));
END
$$;

CREATE OR REPLACE FUNCTION mlops._alert_rule_for_update(p_rule_id text)
    RETURNS mlops.alert_rules
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r mlops.alert_rules;
BEGIN
    SELECT * INTO r FROM mlops.alert_rules WHERE alert_rules.rule_id OPERATOR(pg_catalog.=) p_rule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert rule % does not exist', COALESCE(pg_catalog.quote_literal(pg_catalog.left(p_rule_id, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'List the rules with SELECT rule_id, name FROM mlops.alert_rules.';
    END IF;
    PERFORM mlops._require_owner('alert_rule', p_rule_id, r.owner);
    RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION mlops._alert_for_update(p_alert_id bigint)
    RETURNS mlops.alerts
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a mlops.alerts;
BEGIN
    SELECT * INTO a FROM mlops.alerts WHERE alerts.alert_id OPERATOR(pg_catalog.=) p_alert_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % does not exist', COALESCE(p_alert_id::text, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Open alerts are SELECT * FROM mlops.alerts WHERE resolved_at IS NULL.';
    END IF;
    PERFORM mlops._require_owner('alert', p_alert_id::text, a.owner);
    RETURN a;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_current_metrics(model text)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    result jsonb := pg_catalog.jsonb_build_object('model', model);
    has_monitor boolean;
    s record;
    perf jsonb;
    chk mlops.monitor_checks;
    ref text := mlops._drift_reference_of(model);
    drift jsonb;
BEGIN
    SELECT EXISTS (SELECT 1 FROM mlops.monitors m WHERE m.model OPERATOR(pg_catalog.=) model) INTO has_monitor;
    IF NOT has_monitor AND NOT EXISTS (SELECT 1 FROM mlops.models mo WHERE mo.name OPERATOR(pg_catalog.=) model) THEN
        RAISE EXCEPTION 'model % is neither registered nor monitored', COALESCE(pg_catalog.quote_literal(pg_catalog.left(model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it, or create a monitor with mlops.create_monitor().';
    END IF;

    result := result OPERATOR(pg_catalog.||)
              pg_catalog.jsonb_build_object('production_version', mlops._production_version(model));

    -- serving statistics
    SELECT * INTO s FROM mlops._model_prediction_stats(model);
    IF FOUND THEN
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'stats_version', s.version,
            'calls', s.calls,
            'prediction_rows', s.rows,
            'errors', s.errors,
            'error_rate', CASE WHEN s.calls OPERATOR(pg_catalog.>) 0
                               THEN s.errors::float8 OPERATOR(pg_catalog./) s.calls END,
            'mean_latency_ms', s.mean_ms,
            'p50_latency_ms', s.p50_ms,
            'p95_latency_ms', s.p95_ms,
            'p99_latency_ms', s.p99_ms);
    END IF;

    -- performance over the labelled window, and the latest degradation verdict
    IF has_monitor THEN
        perf := mlops.model_metrics(model);
        result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'labelled_rows', perf OPERATOR(pg_catalog.->) 'rows',
            'unlabelled_rows', perf OPERATOR(pg_catalog.->) 'unlabelled_rows');
        SELECT result OPERATOR(pg_catalog.||) COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
          INTO result
          FROM pg_catalog.jsonb_each(perf) e
         WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'number'
           AND e.key OPERATOR(pg_catalog.<>) ALL (ARRAY['rows', 'unlabelled_rows', 'window_size']);
        chk := mlops._latest_check(model);
        IF chk.check_id IS NOT NULL THEN
            result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
                'degradation_detected', chk.degradation_detected,
                'degradation_status', chk.status,
                'degraded_metrics_count', pg_catalog.cardinality(chk.degraded_metrics));
        END IF;
    END IF;

    -- the latest drift results of the model's reference, as drift.<column>.<method>
    SELECT pg_catalog.jsonb_build_object(
               'drift_reference', ref,
               'drift_detected', pg_catalog.bool_or(d.drift),
               'drift_columns', pg_catalog.count(DISTINCT d.column_name) FILTER (WHERE d.drift),
               'drift_share', (pg_catalog.count(DISTINCT d.column_name) FILTER (WHERE d.drift))::float8
                              OPERATOR(pg_catalog./) pg_catalog.count(DISTINCT d.column_name),
               'drift_checked_at', pg_catalog.max(d.checked_at))
           OPERATOR(pg_catalog.||)
           pg_catalog.jsonb_object_agg('drift.' OPERATOR(pg_catalog.||) d.column_name
                                       OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) d.method,
                                       d.value)
      INTO drift
      FROM mlops._latest_drift_rows() d
     WHERE d.reference_name OPERATOR(pg_catalog.=) ref
    HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0;
    IF drift IS NOT NULL THEN
        result := result OPERATOR(pg_catalog.||) drift;
    END IF;

    result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('open_alerts',
        (SELECT pg_catalog.count(*) FROM mlops.alerts a
          WHERE a.source OPERATOR(pg_catalog.=) model AND a.resolved_at IS NULL));
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION mlops._impl_monitoring_pipeline(model text)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_variable
DECLARE
    params jsonb := pg_catalog.jsonb_build_object('model', model);
    t0 timestamptz;
    steps jsonb := '[]';
    step text;
    reason text;
    step_result jsonb;
    entry jsonb;
    m record;
    drift jsonb;
    degradation jsonb;
    fired jsonb := '[]';
    failed text[] := '{}';
    msg text;
BEGIN
    IF model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO m FROM mlops._monitor_pipeline_settings(model);

    -- Every step is recorded the same way: skipped with its reason, or run
    -- in a subtransaction and recorded as succeeded with its result or as
    -- failed with its error (its work rolled back, the next steps still run).
    FOREACH step IN ARRAY ARRAY['drift', 'degradation', 'alerts'] LOOP
        t0 := pg_catalog.clock_timestamp();
        reason := CASE
            WHEN step OPERATOR(pg_catalog.=) 'drift' AND m.drift_reference IS NULL
                THEN 'no drift reference set (mlops.set_monitor_drift)'
            WHEN step OPERATOR(pg_catalog.=) 'degradation' AND NOT m.monitored
                THEN 'the model has no monitor (mlops.create_monitor)'
        END;
        IF reason IS NOT NULL THEN
            entry := pg_catalog.jsonb_build_object('step', step, 'status', 'skipped', 'reason', reason);
        ELSE
            BEGIN
                IF step OPERATOR(pg_catalog.=) 'drift' THEN
                    drift := mlops.check_monitor_drift(model);
                    step_result := pg_catalog.jsonb_build_object('reference', m.drift_reference,
                                       'drift_detected', drift OPERATOR(pg_catalog.->) 'drift_detected',
                                       'columns_with_drift', drift OPERATOR(pg_catalog.->) 'columns_with_drift');
                ELSIF step OPERATOR(pg_catalog.=) 'degradation' THEN
                    degradation := mlops.check_degradation(model);
                    step_result := degradation;
                ELSE
                    -- alerts over the current metrics
                    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('alert_id', a.alert_id,
                                                                                       'rule_id', a.rule_id,
                                                                                       'severity', a.severity)
                                                         ORDER BY a.alert_id), '[]')
                      INTO fired FROM mlops.check_alerts(mlops.current_metrics(model), model) a;
                    step_result := pg_catalog.jsonb_build_object('fired', fired);
                END IF;
                entry := pg_catalog.jsonb_build_object(
                    'step', step, 'status', 'succeeded',
                    'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                    'result', step_result);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
                failed := failed OPERATOR(pg_catalog.||) step;
                entry := pg_catalog.jsonb_build_object(
                    'step', step, 'status', 'failed',
                    'seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                    'error', msg);
            END;
        END IF;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(entry);
    END LOOP;

    RETURN pg_catalog.jsonb_build_object(
        'status', CASE WHEN pg_catalog.cardinality(failed) OPERATOR(pg_catalog.=) 0 THEN 'succeeded' ELSE 'failed' END,
        'parameters', params, 'steps', steps,
        'result', pg_catalog.jsonb_build_object(
            'model', model, 'alerts_fired', pg_catalog.jsonb_array_length(fired),
            'drift_detected', drift OPERATOR(pg_catalog.->) 'drift_detected',
            'degradation_detected', degradation OPERATOR(pg_catalog.->) 'degradation_detected'))
        OPERATOR(pg_catalog.||)
        CASE WHEN pg_catalog.cardinality(failed) OPERATOR(pg_catalog.=) 0 THEN '{}'::jsonb
             ELSE pg_catalog.jsonb_build_object('error', 'failed steps: '
                                                OPERATOR(pg_catalog.||) pg_catalog.array_to_string(failed, ', ')) END;
END
$$;
-- ---- end of owners, stored drift sources, alert claims ----

-- ==== scheduler and pipelines ====
-- issue 10: jobs are owned objects (kind 'job', mlops.set_owner; membership in the owner counts),
-- unschedule and alter_job(enabled => false) cancel a run in progress, runs outlive their job
-- (job_id NULL, job_name kept), members of a job's owner see its rows, pipelines resolve their
-- source with the one resolver and write only into tables the caller creates or owns
ALTER TABLE mlops.job_runs ADD COLUMN job_name text;
UPDATE mlops.job_runs r SET job_name = j.job_name
  FROM mlops.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) r.job_id;
ALTER TABLE mlops.job_runs
    ALTER COLUMN job_name SET NOT NULL,
    ALTER COLUMN job_id DROP NOT NULL,
    DROP CONSTRAINT job_runs_job_id_fkey,
    ADD CONSTRAINT job_runs_job_id_fkey FOREIGN KEY (job_id) REFERENCES mlops.jobs (job_id) ON DELETE SET NULL,
    DROP CONSTRAINT job_runs_status_check,
    ADD CONSTRAINT job_runs_status_check CHECK (status OPERATOR(pg_catalog.=) ANY
        (ARRAY['scheduled', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled']));
ALTER POLICY jobs_own ON mlops.jobs USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
ALTER POLICY job_runs_own ON mlops.job_runs USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
ALTER POLICY pipeline_runs_own ON mlops.pipeline_runs USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE FUNCTION mlops._check_job_owner(role oid) RETURNS name
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    SELECT a.rolname, a.rolcanlogin INTO r FROM pg_catalog.pg_roles a WHERE a.oid OPERATOR(pg_catalog.=) role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role with OID % does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot own jobs', r.rolname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A job runs in a session of its owner, and this role cannot log in.',
                  HINT = 'Schedule the job from a role with LOGIN, or ALTER ROLE ... LOGIN.';
    END IF;
    RETURN r.rolname;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_job_owner(oid) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._job_owner_oid() RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    actor oid := (SELECT r.oid FROM pg_catalog.pg_roles r
                   WHERE r.rolname OPERATOR(pg_catalog.=) mlops.current_actor());
BEGIN
    PERFORM mlops._check_job_owner(actor);
    RETURN actor;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_owner_oid() FROM PUBLIC;
CREATE FUNCTION mlops._job_owner_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    NEW.owner_name := mlops._check_job_owner(NEW.owner);
    IF EXISTS (SELECT 1 FROM mlops.jobs x
                WHERE x.owner OPERATOR(pg_catalog.=) NEW.owner
                  AND x.job_name OPERATOR(pg_catalog.=) NEW.job_name
                  AND x.job_id OPERATOR(pg_catalog.<>) NEW.job_id) THEN
        RAISE EXCEPTION 'role "%" already has a job named "%"', NEW.owner_name, NEW.job_name
            USING ERRCODE = 'unique_violation',
                  DETAIL = 'Job names are unique per owner.',
                  HINT = 'Unschedule one of the two jobs first.';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION mlops._job_owner_changed() FROM PUBLIC;
CREATE TRIGGER jobs_owner_changed BEFORE UPDATE OF owner ON mlops.jobs
    FOR EACH ROW WHEN (OLD.owner OPERATOR(pg_catalog.<>) NEW.owner)
    EXECUTE FUNCTION mlops._job_owner_changed();
CREATE FUNCTION mlops._may_see_job(owner oid) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN mlops._may_change(owner::regrole)
        OR EXISTS (SELECT 1 FROM mlops.capability_grants g
                    WHERE g.capability OPERATOR(pg_catalog.=) ANY (ARRAY['auditor', 'admin'])
                      AND pg_catalog.pg_has_role(mlops.current_actor(), g.role::oid, 'MEMBER'));
END
$$;
REVOKE ALL ON FUNCTION mlops._may_see_job(oid) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._own_job(p_job_name text) RETURNS mlops.jobs
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs;
    id bigint;
    changeable bigint[];
    visible bigint[];
BEGIN
    SELECT x.job_id INTO id FROM mlops.jobs x
     WHERE x.job_name OPERATOR(pg_catalog.=) p_job_name
       AND x.owner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                           WHERE r.rolname OPERATOR(pg_catalog.=) mlops.current_actor());
    IF id IS NULL THEN
        SELECT pg_catalog.array_agg(x.job_id ORDER BY x.job_id) FILTER (WHERE mlops._may_change(x.owner::regrole)),
               pg_catalog.array_agg(x.job_id ORDER BY x.job_id)
          INTO changeable, visible
          FROM mlops.jobs x
         WHERE x.job_name OPERATOR(pg_catalog.=) p_job_name AND mlops._may_see_job(x.owner);
        IF pg_catalog.cardinality(changeable) OPERATOR(pg_catalog.>) 1 THEN
            RAISE EXCEPTION 'job name "%" is ambiguous', pg_catalog.left(p_job_name, 200)
                USING ERRCODE = 'ambiguous_parameter',
                      DETAIL = pg_catalog.format('You may change %s jobs of that name, of different owners.',
                                                 pg_catalog.cardinality(changeable)),
                      HINT = 'Act as the owner of the one you mean (SET ROLE) and call the function again.';
        END IF;
        id := COALESCE(changeable[1], visible[1]);
    END IF;
    IF id IS NOT NULL THEN
        SELECT * INTO j FROM mlops.jobs x WHERE x.job_id OPERATOR(pg_catalog.=) id FOR UPDATE;
    END IF;
    IF j.job_id IS NULL THEN
        RAISE EXCEPTION 'job "%" does not exist', COALESCE(pg_catalog.left(p_job_name, 200), 'NULL')
            USING ERRCODE = 'undefined_object',
                  DETAIL = pg_catalog.format('Role %s has no job of that name.', mlops.current_actor()),
                  HINT = 'List your jobs with SELECT job_name FROM mlops.jobs.';
    END IF;
    PERFORM mlops._require_owner('job', j.job_name, j.owner::regrole);
    RETURN j;
END
$$;
REVOKE ALL ON FUNCTION mlops._own_job(text) FROM PUBLIC;
CREATE FUNCTION mlops._cancel_runs(p_job_id bigint, p_reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n integer;
BEGIN
    UPDATE mlops.job_runs
       SET status = 'cancelled', finished_at = pg_catalog.clock_timestamp(), message = p_reason
     WHERE job_id OPERATOR(pg_catalog.=) p_job_id
       AND status OPERATOR(pg_catalog.=) ANY (ARRAY['scheduled', 'running']);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION mlops._cancel_runs(bigint, text) FROM PUBLIC;
CREATE FUNCTION mlops._finish_run(p_run_id bigint, p_status text, p_rows bigint, p_result text,
                                  p_message text, p_is_pipeline boolean)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    doc jsonb;
    ended text;
BEGIN
    IF p_is_pipeline AND p_result IS NOT NULL THEN
        doc := p_result::jsonb;
        IF pg_catalog.jsonb_typeof(doc) OPERATOR(pg_catalog.<>) 'object' THEN
            doc := NULL;
        END IF;
    END IF;
    UPDATE mlops.job_runs
       SET status = CASE WHEN (doc OPERATOR(pg_catalog.->>) 'status') OPERATOR(pg_catalog.=) 'failed'
                         THEN 'failed' ELSE p_status END,
           message = COALESCE(doc OPERATOR(pg_catalog.->>) 'error', p_message),
           finished_at = pg_catalog.clock_timestamp(), rows = p_rows, result = p_result
     WHERE run_id OPERATOR(pg_catalog.=) p_run_id AND status OPERATOR(pg_catalog.=) 'running';
    IF NOT FOUND AND p_status OPERATOR(pg_catalog.=) 'succeeded' THEN
        SELECT r.status INTO ended FROM mlops.job_runs r WHERE r.run_id OPERATOR(pg_catalog.=) p_run_id;
        RAISE EXCEPTION 'the job run ended as % before its command finished', COALESCE(ended, 'deleted')
            USING ERRCODE = 'query_canceled',
                  DETAIL = pg_catalog.format('The effects of the command of run %s are rolled back.', p_run_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._finish_run(bigint, text, bigint, text, text, boolean) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_unschedule(job_name text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
    cancelled integer;
BEGIN
    cancelled := mlops._cancel_runs(j.job_id, pg_catalog.format('cancelled by %s: the job was unscheduled',
                                                                mlops.current_actor()));
    DELETE FROM mlops.jobs WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.unschedule', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name, 'owner', j.owner_name,
                                                             'cancelled_runs', cancelled));
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_unschedule(text) FROM PUBLIC;
DROP FUNCTION mlops._impl_training_pipeline(text, text, text, text, text, text, jsonb, jsonb);
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
CREATE OR REPLACE FUNCTION mlops.training_pipeline(data_source text, target_column text, model_name text,
                                        model_type text DEFAULT 'xgboost', experiment_name text DEFAULT NULL,
                                        task text DEFAULT 'classification', hyperparams jsonb DEFAULT '{}',
                                        min_metrics jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_source_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.training_pipeline(text, text, text, text, text, text, jsonb, jsonb) FROM PUBLIC;
DROP FUNCTION mlops._impl_data_pipeline(text, text, boolean, jsonb);
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
CREATE OR REPLACE FUNCTION mlops.data_pipeline(data_source text, output_table text, validate boolean DEFAULT true,
                                    rules jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_source_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.data_pipeline(text, text, boolean, jsonb) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_prometheus_metrics()
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    out text;
    lines text;
    calls_lines text;
    rows_lines text;
    errors_lines text;
    latency_lines text;
BEGIN
    -- serving counters and the latency summary, in one pass over the statistics
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_predictions_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.calls), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_prediction_rows_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.rows), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(pg_catalog.format(E'mlops_prediction_errors_total{model=%s,version="%s"} %s\n',
                                                   mlops._prom_label(s.model), s.version, s.errors), '' ORDER BY s.model, s.version),
           pg_catalog.string_agg(
               pg_catalog.format(E'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.5"} %3$s\n'
                                 'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.95"} %4$s\n'
                                 'mlops_prediction_latency_seconds{model=%1$s,version="%2$s",quantile="0.99"} %5$s\n'
                                 'mlops_prediction_latency_seconds_sum{model=%1$s,version="%2$s"} %6$s\n'
                                 'mlops_prediction_latency_seconds_count{model=%1$s,version="%2$s"} %7$s\n',
                                 mlops._prom_label(s.model), s.version,
                                 mlops._prom_value(s.p50_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.p95_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.p99_ms OPERATOR(pg_catalog./) 1000),
                                 mlops._prom_value(s.total_ms OPERATOR(pg_catalog./) 1000), s.calls),
               '' ORDER BY s.model, s.version)
      INTO calls_lines, rows_lines, errors_lines, latency_lines
      FROM mlops._prediction_stats_rows() s;
    out := mlops._prom_family('mlops_predictions_total', 'counter',
               'Prediction calls served, per model version.', calls_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_rows_total', 'counter',
               'Rows predicted, per model version.', rows_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_errors_total', 'counter',
               'Prediction calls that raised an error, per model version.', errors_lines)
        OPERATOR(pg_catalog.||) mlops._prom_family('mlops_prediction_latency_seconds', 'summary',
               'Prediction call latency, per model version.', latency_lines);

    -- registry
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_versions{model=%s,stage=%s} %s\n',
                                                   mlops._prom_label(x.name), mlops._prom_label(x.stage), x.n),
                                 '' ORDER BY x.name, x.stage)
      INTO lines
      FROM (SELECT mo.name, st.stage, pg_catalog.count(v.version) AS n
              FROM mlops.models mo
             CROSS JOIN pg_catalog.unnest(ARRAY['None', 'Staging', 'Production', 'Archived']) st(stage)
              LEFT JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
                                              AND v.stage OPERATOR(pg_catalog.=) st.stage
             GROUP BY mo.name, st.stage) x;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_versions', 'gauge',
        'Registered model versions, per model and stage.', lines);

    -- drift
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_drift_score{reference=%s,column=%s,method=%s} %s\n',
                                                   mlops._prom_label(d.reference_name), mlops._prom_label(d.column_name),
                                                   mlops._prom_label(d.method), mlops._prom_value(d.value)),
                                 '' ORDER BY d.reference_name, d.column_name, d.method)
      INTO lines FROM mlops._latest_drift_rows() d;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_drift_score', 'gauge',
        'Latest drift statistic, per reference, column and method.', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_drift_detected{reference=%s,column=%s,method=%s} %s\n',
                                                   mlops._prom_label(d.reference_name), mlops._prom_label(d.column_name),
                                                   mlops._prom_label(d.method), d.drift::integer),
                                 '' ORDER BY d.reference_name, d.column_name, d.method)
      INTO lines FROM mlops._latest_drift_rows() d;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_drift_detected', 'gauge',
        'Whether the latest drift check found drift (1) or not (0).', lines);

    -- performance monitors
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_degraded{model=%s} %s\n',
                                                   mlops._prom_label(m.model), c.degradation_detected::integer),
                                 '' ORDER BY m.model)
      INTO lines FROM mlops.monitors m, LATERAL mlops._latest_check(m.model) c WHERE c.check_id IS NOT NULL;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_degraded', 'gauge',
        'Whether the latest degradation check found the model worse than its baseline (1) or not (0).', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_model_metric{model=%s,metric=%s} %s\n',
                                                   mlops._prom_label(m.model), mlops._prom_label(e.key),
                                                   mlops._prom_value((e.value #>> '{}')::float8)),
                                 '' ORDER BY m.model, e.key)
      INTO lines FROM mlops.monitors m, LATERAL mlops._latest_check(m.model) c,
                      LATERAL pg_catalog.jsonb_each(c.result OPERATOR(pg_catalog.->) 'current') e
     WHERE c.check_id IS NOT NULL;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_model_metric', 'gauge',
        'Performance metric at the latest degradation check, per model.', lines);

    -- alerts
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_alerts_open{severity="%s"} %s\n', sv.severity,
                                                   (SELECT pg_catalog.count(*) FROM mlops.alerts a
                                                     WHERE a.resolved_at IS NULL
                                                       AND a.severity OPERATOR(pg_catalog.=) sv.severity)),
                                 '' ORDER BY sv.ord)
      INTO lines FROM pg_catalog.unnest(ARRAY['info', 'warning', 'critical']) WITH ORDINALITY sv(severity, ord);
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_alerts_open', 'gauge',
        'Alerts not yet resolved, per severity.', lines);
    SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_alerts_fired_total{severity="%s"} %s\n', sv.severity,
                                                   (SELECT pg_catalog.count(*) FROM mlops.alerts a
                                                     WHERE a.severity OPERATOR(pg_catalog.=) sv.severity)),
                                 '' ORDER BY sv.ord)
      INTO lines FROM pg_catalog.unnest(ARRAY['info', 'warning', 'critical']) WITH ORDINALITY sv(severity, ord);
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_alerts_fired_total', 'counter',
        'Alerts fired, per severity.', lines);

    -- scheduler: only the runs of jobs the caller may see (mlops._may_see_job:
    -- its own and its groups', all for auditors, admins and the extension owner)
    lines := NULL;
    IF pg_catalog.to_regclass('mlops.job_runs') IS NOT NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format(E'mlops_job_runs_total{job=%s,owner=%s,status=%s} %s\n',
                                                       mlops._prom_label(c.job_name),
                                                       mlops._prom_label(pg_catalog.pg_get_userbyid(c.owner)),
                                                       mlops._prom_label(c.status), c.runs),
                                     '' ORDER BY c.job_name, pg_catalog.pg_get_userbyid(c.owner), c.status)
          INTO lines
          FROM (SELECT r.job_name, r.owner, r.status, pg_catalog.count(*) AS runs
                  FROM mlops.job_runs r GROUP BY r.job_name, r.owner, r.status) c
         WHERE mlops._may_see_job(c.owner);
    END IF;
    out := out OPERATOR(pg_catalog.||) mlops._prom_family('mlops_job_runs_total', 'counter',
        'Scheduled job runs, per job, owner and outcome.', lines);
    RETURN out;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_prometheus_metrics() FROM PUBLIC;
-- jobs are stamped with the database they belong to; existing jobs get this one's stamp
CREATE FUNCTION mlops._database_oid() RETURNS oid
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__database_oid';
REVOKE ALL ON FUNCTION mlops._database_oid() FROM PUBLIC;
CREATE FUNCTION mlops._system_identifier() RETURNS bigint
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'mlops__system_identifier';
REVOKE ALL ON FUNCTION mlops._system_identifier() FROM PUBLIC;
ALTER TABLE mlops.jobs
    ADD COLUMN paused_reason text,
    ADD COLUMN home_database_oid oid NOT NULL DEFAULT mlops._database_oid(),
    ADD COLUMN home_system_identifier bigint NOT NULL DEFAULT mlops._system_identifier();
-- commands are parse-analysed as their owner unless validate => false
DROP FUNCTION mlops._check_job_command(text);
CREATE FUNCTION mlops._check_job_command(command text, job_name text, owner oid, validate boolean)
    RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'mlops__check_job_command_as_owner';
REVOKE ALL ON FUNCTION mlops._check_job_command(text, text, oid, boolean) FROM PUBLIC;
DROP FUNCTION mlops._save_job(text, text, text, text, jsonb);
CREATE FUNCTION mlops._save_job(p_job_name text, p_schedule text, p_command text,
                                p_pipeline text, p_parameters jsonb, p_validate boolean)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id bigint;
    owner_oid oid := mlops._job_owner_oid();
    next timestamptz;
    replaced boolean;
BEGIN
    PERFORM mlops._require_scheduler();
    IF p_job_name IS NULL OR pg_catalog.btrim(p_job_name) OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'job name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.length(p_job_name) OPERATOR(pg_catalog.>) 200 THEN
        RAISE EXCEPTION 'job name must be at most 200 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It has %s characters.', pg_catalog.length(p_job_name));
    END IF;
    IF p_schedule IS NULL THEN
        RAISE EXCEPTION 'schedule must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Examples: ''0 2 * * *'', ''@hourly'', ''every 30 seconds''.';
    END IF;
    IF p_command IS NULL THEN
        RAISE EXCEPTION 'command must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    next := mlops._next_run(p_schedule, NULL, pg_catalog.clock_timestamp());
    PERFORM mlops._check_job_command(p_command, p_job_name, owner_oid, p_validate);
    SELECT true INTO replaced FROM mlops.jobs
     WHERE owner OPERATOR(pg_catalog.=) owner_oid AND job_name OPERATOR(pg_catalog.=) p_job_name;
    INSERT INTO mlops.jobs AS j (job_name, owner, owner_name, schedule, command, pipeline, parameters,
                                 next_run_at)
    VALUES (p_job_name, owner_oid, mlops.current_actor(), p_schedule, p_command, p_pipeline,
            p_parameters, next)
    ON CONFLICT (owner, job_name) DO UPDATE
       SET schedule = EXCLUDED.schedule, command = EXCLUDED.command, pipeline = EXCLUDED.pipeline,
           parameters = EXCLUDED.parameters, next_run_at = EXCLUDED.next_run_at, enabled = true,
           failures = 0, disabled_reason = NULL, paused_reason = NULL,
           home_database_oid = EXCLUDED.home_database_oid,
           home_system_identifier = EXCLUDED.home_system_identifier
    RETURNING job_id INTO id;
    PERFORM mlops._audit_event('job.schedule', 'job', id::text,
                               pg_catalog.jsonb_build_object('job_name', p_job_name,
                                   'schedule', p_schedule, 'command', p_command,
                                   'pipeline', p_pipeline, 'replaced', COALESCE(replaced, false),
                                   'validate', p_validate));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION mlops._save_job(text, text, text, text, jsonb, boolean) FROM PUBLIC;
DROP FUNCTION mlops.schedule(text, text, text);
DROP FUNCTION mlops._impl_schedule(text, text, text);
CREATE FUNCTION mlops._impl_schedule(job_name text, schedule text, command text, validate boolean)
    RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT mlops._save_job($1, $2, $3, NULL, NULL, $4) $$;
REVOKE ALL ON FUNCTION mlops._impl_schedule(text, text, text, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.schedule(job_name text, schedule text, command text, validate boolean DEFAULT true)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.schedule(text, text, text, boolean) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_schedule_pipeline(job_name text, pipeline text, schedule text,
                                              parameters jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    allowed text[];
    required text[];
    missing text[];
    args text[] := '{}';
    k text;
    v jsonb;
BEGIN
    PERFORM mlops._require_object(parameters, 'parameters');
    IF pipeline OPERATOR(pg_catalog.=) 'training_pipeline' THEN
        allowed := ARRAY['data_source', 'target_column', 'model_name', 'model_type', 'experiment_name',
                         'task', 'hyperparams', 'min_metrics'];
        required := ARRAY['data_source', 'target_column', 'model_name'];
    ELSIF pipeline OPERATOR(pg_catalog.=) 'data_pipeline' THEN
        allowed := ARRAY['data_source', 'output_table', 'validate', 'rules'];
        required := ARRAY['data_source', 'output_table'];
    ELSIF pipeline OPERATOR(pg_catalog.=) 'monitoring_pipeline' THEN
        allowed := ARRAY['model'];
        required := ARRAY['model'];
    ELSE
        RAISE EXCEPTION 'unknown pipeline %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(pipeline, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The pipelines are training_pipeline, data_pipeline and monitoring_pipeline.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(parameters) e ORDER BY e.key LOOP
        IF NOT k OPERATOR(pg_catalog.=) ANY (allowed) THEN
            RAISE EXCEPTION '% has no parameter "%"', pipeline, pg_catalog.left(k, 200)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = pg_catalog.format('Its parameters are %s.', pg_catalog.array_to_string(allowed, ', '));
        END IF;
        IF k OPERATOR(pg_catalog.=) ANY (ARRAY['hyperparams', 'min_metrics', 'rules']) THEN
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::jsonb', k, v::text);
        ELSIF k OPERATOR(pg_catalog.=) 'validate' THEN
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'boolean' THEN
                RAISE EXCEPTION 'parameter "validate" must be a JSON boolean'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %s', k, v::text);
        ELSE
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'string' THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON string', pg_catalog.left(k, 200)
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L', k, v OPERATOR(pg_catalog.->>) 0);
        END IF;
    END LOOP;
    SELECT pg_catalog.array_agg(r ORDER BY o) INTO missing
      FROM pg_catalog.unnest(required) WITH ORDINALITY AS x(r, o)
     WHERE NOT parameters OPERATOR(pg_catalog.?) r;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '% needs parameter "%"', pipeline, missing[1]
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Missing: %s.', pg_catalog.array_to_string(missing, ', ')),
                  HINT = pg_catalog.format('Its required parameters are %s.', pg_catalog.array_to_string(required, ', '));
    END IF;
    RETURN mlops._save_job(job_name, schedule,
                           pg_catalog.format('SELECT mlops.%I(%s)', pipeline,
                                             pg_catalog.array_to_string(args, ', ')),
                           pipeline, parameters, true);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_schedule_pipeline(text, text, text, jsonb) FROM PUBLIC;
DROP FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval);
DROP FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval);
CREATE FUNCTION mlops._impl_alter_job(job_name text, schedule text, command text, enabled boolean,
                                      max_runtime interval, max_retries integer, retry_delay interval,
                                      validate boolean)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
    next timestamptz := j.next_run_at;
    cancelled integer;
BEGIN
    IF schedule IS NOT NULL THEN
        next := mlops._next_run(schedule, NULL, pg_catalog.clock_timestamp());
    ELSIF enabled AND NOT j.enabled THEN
        next := mlops._next_run(j.schedule, NULL, pg_catalog.clock_timestamp());
    END IF;
    IF command IS NOT NULL THEN
        IF j.pipeline IS NOT NULL THEN
            RAISE EXCEPTION 'job "%" runs a pipeline', job_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Change its parameters with mlops.schedule_pipeline() under the same name.';
        END IF;
        IF NOT pg_catalog.pg_has_role(mlops.current_actor(), j.owner, 'MEMBER') THEN
            RAISE EXCEPTION 'permission denied to change the command of job "%"', j.job_name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('The command runs as role "%s"; only members of that role may change it.',
                                                 j.owner_name),
                      HINT = 'Ask a member of the owner to change it, or unschedule the job.';
        END IF;
        PERFORM mlops._check_job_command(command, j.job_name, j.owner, validate);
    END IF;
    IF max_runtime IS NOT NULL AND (max_runtime OPERATOR(pg_catalog.<=) '0'::interval
                                    OR max_runtime OPERATOR(pg_catalog.>) '10 years'::interval) THEN
        RAISE EXCEPTION 'max_runtime must be greater than 0 and at most 10 years'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It is %s.', max_runtime);
    END IF;
    IF max_retries IS NOT NULL AND (max_retries OPERATOR(pg_catalog.<) 0 OR max_retries OPERATOR(pg_catalog.>) 100) THEN
        RAISE EXCEPTION 'max_retries must be between 0 and 100' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = pg_catalog.format('It is %s.', max_retries);
    END IF;
    IF retry_delay IS NOT NULL AND (retry_delay OPERATOR(pg_catalog.<) '1 second'::interval
                                    OR retry_delay OPERATOR(pg_catalog.>) '1 hour'::interval) THEN
        RAISE EXCEPTION 'retry_delay must be between 1 second and 1 hour'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It is %s; retries back off from it, doubling, up to 1 hour.', retry_delay);
    END IF;
    UPDATE mlops.jobs
       SET schedule = COALESCE($2, j.schedule),
           command = COALESCE($3, j.command),
           enabled = COALESCE($4, j.enabled),
           max_runtime = COALESCE($5, j.max_runtime),
           max_retries = COALESCE($6, j.max_retries),
           retry_delay = COALESCE($7, j.retry_delay),
           next_run_at = next,
           disabled_reason = CASE WHEN $4 THEN NULL ELSE j.disabled_reason END,
           paused_reason = CASE WHEN $4 THEN NULL ELSE j.paused_reason END,
           home_database_oid = CASE WHEN $4 THEN mlops._database_oid() ELSE j.home_database_oid END,
           home_system_identifier = CASE WHEN $4 THEN mlops._system_identifier()
                                         ELSE j.home_system_identifier END,
           failures = CASE WHEN $4 THEN 0 ELSE j.failures END,
           run_requested = CASE WHEN NOT $4 THEN false ELSE j.run_requested END
     WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    IF NOT $4 THEN
        cancelled := mlops._cancel_runs(j.job_id, pg_catalog.format('cancelled by %s: the job was disabled',
                                                                    mlops.current_actor()));
    END IF;
    PERFORM mlops._audit_event('job.alter', 'job', j.job_id::text,
                               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                   'job_name', j.job_name, 'owner', j.owner_name, 'schedule', $2, 'command', $3,
                                   'enabled', $4, 'max_runtime', $5, 'max_retries', $6, 'retry_delay', $7,
                                   'validate', CASE WHEN $3 IS NOT NULL THEN $8 END,
                                   'resumed', CASE WHEN $4 AND j.paused_reason IS NOT NULL THEN true END,
                                   'cancelled_runs', NULLIF(cancelled, 0))));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.alter_job(job_name text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                enabled boolean DEFAULT NULL, max_runtime interval DEFAULT NULL,
                                max_retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL,
                                validate boolean DEFAULT true)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.alter_job(text, text, text, boolean, interval, integer, interval, boolean) FROM PUBLIC;
CREATE OR REPLACE FUNCTION mlops._impl_run_job(job_name text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    j mlops.jobs := mlops._own_job(job_name);
BEGIN
    PERFORM mlops._require_scheduler();
    IF j.paused_reason IS NOT NULL
       OR j.home_database_oid OPERATOR(pg_catalog.<>) mlops._database_oid()
       OR j.home_system_identifier OPERATOR(pg_catalog.<>) mlops._system_identifier() THEN
        RAISE EXCEPTION 'job "%" is paused', j.job_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was created in another database; this database is a copy of that one.',
                  HINT = pg_catalog.format('Resume it here with mlops.alter_job(%L, enabled => true).', j.job_name);
    END IF;
    UPDATE mlops.jobs SET run_requested = true WHERE job_id OPERATOR(pg_catalog.=) j.job_id;
    PERFORM mlops._audit_event('job.run', 'job', j.job_id::text,
                               pg_catalog.jsonb_build_object('job_name', j.job_name, 'owner', j.owner_name));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_run_job(text) FROM PUBLIC;

-- ==== deployments and A/B tests ====

-- ==== feature store ====

-- ==== http service ====

-- ==== reports and artifacts ====

-- ==== performance and replicas ====
-- replicas and training
-- model_info: what an inference service's /model/info returns, with the
-- model's owner and the fingerprint of the data it was trained on (null for
-- imported models and versions trained before 0.2.0).
CREATE OR REPLACE FUNCTION mlops.model_info(model text) RETURNS jsonb
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
               'data', v.input_schema OPERATOR(pg_catalog.->) 'data')
      FROM mlops.resolve_model($1) r
      JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) r.model_id
      JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) r.model_id
                                 AND v.version OPERATOR(pg_catalog.=) r.version
$$;
REVOKE ALL ON FUNCTION mlops.model_info(text) FROM PUBLIC;

-- ==== audit and trust model ====
-- (generated by test/lib/sync_trust_section.py from sql/install/05_ownership.sql, 97_ownership.sql, 98_capabilities.sql)
-- Ownership (docs/security.md#ownership): every mlops object has an owner
-- role, stored in a column `owner regrole` of its table.  Changing or
-- dropping the object requires that the acting role (mlops.current_actor())
-- be a member of that role or of the extension owner's role; these two
-- functions are the one place that rule is written (src/common/security.c).

-- _require_owner raises insufficient_privilege (42501) unless the actor may
-- change the object of this kind and name.
CREATE FUNCTION mlops._require_owner(kind text, name text, owner regrole) RETURNS void
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_require_owner';
REVOKE ALL ON FUNCTION mlops._require_owner(text, text, regrole) FROM PUBLIC;

-- _may_change answers the same question as a boolean, for filters.
CREATE FUNCTION mlops._may_change(owner regrole) RETURNS boolean
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_may_change';
REVOKE ALL ON FUNCTION mlops._may_change(regrole) FROM PUBLIC;

-- _object_kinds lists every kind of owned object: the table that holds it
-- and the column that names it (its owner is that table's `owner` column).
-- Each subsystem adds its kinds here; mlops.set_owner() and the tests read it.
CREATE FUNCTION mlops._object_kinds()
    RETURNS TABLE (kind text, relation text, key_column text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.kind, k.relation, k.key_column
      FROM (VALUES
            ('none', 'none', 'none'),
            ('monitor', 'mlops.monitors', 'model'),
            ('drift_reference', 'mlops.drift_references', 'name'),
            ('alert_rule', 'mlops.alert_rules', 'rule_id'),
            ('alert', 'mlops.alerts', 'alert_id'),
            ('adwin', 'mlops.adwin_detectors', 'name'),
            ('experiment', 'mlops.experiments', 'name'),
            ('run', 'mlops.runs', 'run_id'),
            ('model', 'mlops.models', 'name'),
            -- jobs: job names are unique per owner only, so a job is named by its job_id
            ('job', 'mlops.jobs', 'job_id')
           ) AS k (kind, relation, key_column)
     WHERE k.kind OPERATOR(pg_catalog.<>) 'none'
$$;
REVOKE ALL ON FUNCTION mlops._object_kinds() FROM PUBLIC;

-- set_owner hands one object over to another role.  The actor must be
-- allowed to change the object (a member of its owner, or of the extension
-- owner) and must be a member of the new owner role, as ALTER ... OWNER TO
-- requires.
CREATE FUNCTION mlops._impl_set_owner(kind text, name text, role name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k record;
    old_owner regrole;
    new_owner oid;
BEGIN
    IF kind IS NULL OR name IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'kind, name and role must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO k FROM mlops._object_kinds() o WHERE o.kind OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown object kind "%"', pg_catalog.left(kind, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Kinds are: %s.',
                      (SELECT pg_catalog.string_agg(o.kind, ', ' ORDER BY o.kind) FROM mlops._object_kinds() o));
    END IF;
    SELECT r.oid INTO new_owner FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', pg_catalog.left(role, 100)
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format('SELECT owner FROM %s WHERE %I::pg_catalog.text OPERATOR(pg_catalog.=) $1 FOR UPDATE',
                              k.relation, k.key_column)
       INTO old_owner USING name;
    IF old_owner IS NULL THEN
        RAISE EXCEPTION '% "%" does not exist', kind, pg_catalog.left(name, 200)
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM mlops._require_owner(kind, name, old_owner);
    IF NOT mlops._may_change(new_owner::regrole) THEN
        RAISE EXCEPTION 'must be a member of role "%" to hand it a %', role, kind
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'As with ALTER ... OWNER TO, the new owner must be a role you belong to.';
    END IF;
    EXECUTE pg_catalog.format('UPDATE %s SET owner = $2 WHERE %I::pg_catalog.text OPERATOR(pg_catalog.=) $1',
                              k.relation, k.key_column)
       USING name, new_owner::regrole;
    PERFORM mlops._audit_event('ownership.set', kind, name,
        pg_catalog.jsonb_build_object('from', old_owner::pg_catalog.text, 'to', role));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_owner(text, text, name) FROM PUBLIC;
CREATE FUNCTION mlops.set_owner(kind text, name text, role name) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_owner(text, text, name) FROM PUBLIC;

-- Capabilities (docs/security.md#capabilities): documented bundles of
-- privileges granted in one call.  A bundle names functions (every overload
-- of the name) and relations (SELECT); every bundle includes USAGE on the
-- schema.  test/pgtap/capabilities.sql checks, from pg_proc, that every
-- public mlops function is in the admin bundle and that a role given a
-- bundle can execute exactly that bundle's functions.

CREATE TABLE mlops.capability_grants (
    role        regrole NOT NULL,
    capability  text NOT NULL,
    granted_by  name NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, capability)
);
REVOKE ALL ON mlops.capability_grants FROM PUBLIC;

-- _capability_objects lists each bundle's functions and relations.
CREATE FUNCTION mlops._capability_objects()
    RETURNS TABLE (capability text, object_type text, object_name text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH reader (name) AS (VALUES
        ('predict'), ('predict_proba'), ('predict_label'), ('predict_batch'), ('predict_table'),
        ('predict_proba_table'),
        ('model_info'), ('model_schema'), ('resolve_model'), ('compare_runs'),
        ('current_metrics'), ('model_metrics'), ('health'), ('ready'), ('current_actor'),
        ('psi'), ('kl_divergence'), ('js_distance'), ('wasserstein'), ('ks_test'),
        ('chi_square_test'), ('adwin'), ('next_runs'), ('alert'), ('version')),
    reader_rel (name) AS (VALUES
        ('experiments'), ('runs'), ('run_metrics'), ('run_latest_metrics'), ('models'),
        ('model_aliases'), ('dashboard'), ('prediction_stats'), ('training_progress')),
    owner_fns (name) AS (VALUES ('set_owner'), ('audit'), ('audit_events')),
    -- row-level security shows a role the rows of the roles it belongs to
    scientist_rel (name) AS (VALUES ('pipeline_runs')),
    operator_rel (name) AS (VALUES ('jobs'), ('job_runs'), ('pipeline_runs')),
    scientist (name) AS (VALUES
        ('create_experiment'), ('start_run'), ('log_params'), ('log_metrics'), ('set_tags'),
        ('end_run'), ('train'), ('import_model'), ('export_model'), ('drop_model_version'),
        ('set_alias'), ('drop_alias'), ('detect_drift'), ('set_drift_reference'),
        ('set_drift_reference_from_model'), ('drop_drift_reference'), ('create_adwin'),
        ('update_adwin'), ('drop_adwin'), ('training_pipeline'), ('data_pipeline'),
        ('record_prediction'), ('record_actual')),
    deployer (name) AS (VALUES
        ('transition_stage'), ('set_alias'), ('drop_alias')),
    operator (name) AS (VALUES
        ('create_monitor'), ('drop_monitor'), ('set_monitor_drift'), ('check_degradation'),
        ('monitoring_pipeline'), ('_monitor_pipeline_settings'), ('check_monitor_drift'), ('add_alert_rule'), ('drop_alert_rule'),
        ('set_alert_rule_enabled'), ('check_alerts'), ('acknowledge_alert'), ('resolve_alert'),
        ('schedule'), ('unschedule'), ('alter_job'), ('run_job'), ('schedule_pipeline'),
        ('record_prediction'), ('record_actual'), ('prometheus_metrics'), ('model_cache')),
    auditor (name) AS (VALUES
        ('current_actor'), ('audit_events'), ('verify_audit_log')),
    admin_only (name) AS (VALUES
        ('grant_capability'), ('revoke_capability'), ('model_cache_reset'),
        ('prediction_stats_reset')),
    bundles (capability, object_type, object_name) AS (
        SELECT 'reader', 'function', name FROM reader
        UNION SELECT 'reader', 'relation', name FROM reader_rel
        UNION SELECT c.c, 'function', r.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), reader r
        UNION SELECT c.c, 'relation', r.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), reader_rel r
        UNION SELECT c.c, 'function', o.name FROM (VALUES ('scientist'), ('deployer'), ('operator')) c (c), owner_fns o
        UNION SELECT 'scientist', 'function', name FROM scientist
        UNION SELECT 'scientist', 'relation', name FROM scientist_rel
        UNION SELECT 'operator', 'relation', name FROM operator_rel
        UNION SELECT 'deployer', 'function', name FROM deployer
        UNION SELECT 'operator', 'function', name FROM operator
        UNION SELECT 'auditor', 'function', name FROM auditor
        UNION SELECT 'auditor', 'relation', 'audit_log'
        UNION SELECT 'admin', 'function', name FROM admin_only)
    SELECT b.capability, b.object_type, b.object_name FROM bundles b
    UNION
    -- admin holds every other bundle
    SELECT 'admin', b.object_type, b.object_name FROM bundles b
$$;
REVOKE ALL ON FUNCTION mlops._capability_objects() FROM PUBLIC;

-- _apply_capability grants (or revokes) one bundle's privileges.
CREATE FUNCTION mlops._apply_capability(role regrole, capability text, do_grant boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    o record;
    verb text := CASE WHEN do_grant THEN 'GRANT' ELSE 'REVOKE' END;
    dir text := CASE WHEN do_grant THEN 'TO' ELSE 'FROM' END;
BEGIN
    IF do_grant THEN
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA mlops TO %s', role);
    END IF;
    FOR o IN
        SELECT p.oid::regprocedure AS fn, NULL::regclass AS rel
          FROM mlops._capability_objects() c
          JOIN pg_catalog.pg_proc p ON p.proname OPERATOR(pg_catalog.=) c.object_name
         WHERE c.capability OPERATOR(pg_catalog.=) $2 AND c.object_type OPERATOR(pg_catalog.=) 'function'
           AND p.pronamespace OPERATOR(pg_catalog.=) 'mlops'::regnamespace
        UNION ALL
        SELECT NULL, cl.oid::regclass
          FROM mlops._capability_objects() c
          JOIN pg_catalog.pg_class cl ON cl.relname OPERATOR(pg_catalog.=) c.object_name
         WHERE c.capability OPERATOR(pg_catalog.=) $2 AND c.object_type OPERATOR(pg_catalog.=) 'relation'
           AND cl.relnamespace OPERATOR(pg_catalog.=) 'mlops'::regnamespace
    LOOP
        IF o.fn IS NOT NULL THEN
            EXECUTE pg_catalog.format('%s EXECUTE ON FUNCTION %s %s %s', verb, o.fn, dir, role);
        ELSE
            EXECUTE pg_catalog.format('%s SELECT ON %s %s %s', verb, o.rel, dir, role);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mlops._apply_capability(regrole, text, boolean) FROM PUBLIC;

-- _check_capability validates the arguments of grant/revoke_capability.
CREATE FUNCTION mlops._check_capability(role name, capability text) RETURNS regrole
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r oid;
BEGIN
    IF role IS NULL OR capability IS NULL THEN
        RAISE EXCEPTION 'role and capability must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mlops._capability_objects() c WHERE c.capability OPERATOR(pg_catalog.=) $2) THEN
        RAISE EXCEPTION 'unknown capability "%"', pg_catalog.left(capability, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Capabilities are reader, scientist, deployer, operator, auditor and admin.';
    END IF;
    SELECT a.oid INTO r FROM pg_catalog.pg_roles a WHERE a.rolname OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', pg_catalog.left(role, 100) USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r::regrole;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_capability(name, text) FROM PUBLIC;

-- grant_capability gives a role one bundle of privileges.
CREATE FUNCTION mlops._impl_grant_capability(role name, capability text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r regrole := mlops._check_capability(role, capability);
BEGIN
    PERFORM mlops._apply_capability(r, capability, true);
    INSERT INTO mlops.capability_grants (role, capability, granted_by)
    VALUES (r, capability, mlops.current_actor())
    ON CONFLICT ON CONSTRAINT capability_grants_pkey DO NOTHING;
    PERFORM mlops._audit_event('capability.grant', 'role', role::text,
                               pg_catalog.jsonb_build_object('capability', capability));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_grant_capability(name, text) FROM PUBLIC;
CREATE FUNCTION mlops.grant_capability(role name, capability text) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.grant_capability(name, text) FROM PUBLIC;

-- revoke_capability takes one bundle away; privileges that another bundle
-- the role still holds also gives are kept.
CREATE FUNCTION mlops._impl_revoke_capability(role name, capability text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r regrole := mlops._check_capability(role, capability);
    other text;
BEGIN
    DELETE FROM mlops.capability_grants g
     WHERE g.role OPERATOR(pg_catalog.=) r AND g.capability OPERATOR(pg_catalog.=) $2;
    PERFORM mlops._apply_capability(r, capability, false);
    FOR other IN SELECT g.capability FROM mlops.capability_grants g WHERE g.role OPERATOR(pg_catalog.=) r LOOP
        PERFORM mlops._apply_capability(r, other, true);
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM mlops.capability_grants g WHERE g.role OPERATOR(pg_catalog.=) r) THEN
        EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA mlops FROM %s', r);
    END IF;
    PERFORM mlops._audit_event('capability.revoke', 'role', role::text,
                               pg_catalog.jsonb_build_object('capability', capability));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_revoke_capability(name, text) FROM PUBLIC;
CREATE FUNCTION mlops.revoke_capability(role name, capability text) RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.revoke_capability(name, text) FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('mlops.capability_grants', '');

-- ==== end ====
