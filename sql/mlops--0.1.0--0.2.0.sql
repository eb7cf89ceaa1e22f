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
CREATE FUNCTION mlops.drop_model_version(name text, version integer)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.drop_model_version(text, integer) FROM PUBLIC;


-- ==== training ====


-- ==== serving ====
-- _predict_scores: {prediction, probability of the predicted class (NULL
-- unless a classifier outputs probabilities)} from one evaluation, what
-- mlops.ab_predict needs of a prediction (src/deploy/ab_predict.c).
CREATE FUNCTION mlops._predict_scores(model text, features jsonb) RETURNS float8[]
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_scores';
REVOKE ALL ON FUNCTION mlops._predict_scores(text, jsonb) FROM PUBLIC;

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
-- _detect_drift_distributions is detect_drift (the same checks, recorded
-- the same way, thresholds the defaults) returning {"result": what
-- detect_drift returns, "distributions": per column the counts of both
-- samples on shared bins (numbers) or per category}, from one read of the
-- source: mlops.drift_report draws its charts from it.
CREATE FUNCTION mlops._detect_drift_distributions(name text, source text, methods text[] DEFAULT NULL,
                                                  columns text[] DEFAULT NULL, bins integer DEFAULT 20)
    RETURNS jsonb
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_detect_drift_distributions';
REVOKE ALL ON FUNCTION mlops._detect_drift_distributions(text, text, text[], text[], integer) FROM PUBLIC;

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
-- (deploy helper; the install piece is sql/install/50_deployments.sql)
-- Deployments (docs/deployments.md; src/deploy/, src/serve/routing.c).
--
-- A deployment moves one model version into an environment: 'production'
-- (the Production stage, which a bare model name such as 'churn' means) or
-- 'staging' (the Staging stage).  Strategies: direct (switch now), canary
-- (a share of a bare name's predictions goes to the candidate), blue_green
-- (the candidate waits loaded beside the stable version; promote switches
-- in one transaction, rollback switches back), shadow (the candidate
-- predicts every request too, its outputs are compared, never returned).
--
-- At most one pending or active deployment per model and environment, by a
-- partial unique index.  Every state change is a row of
-- mlops.deployment_events and an audit event.  A statement trigger queues
-- the registry's relcache invalidation, so every backend's routing cache
-- (serve/routing.c) sees a committed change before its next prediction.
--
-- Ownership: a deployment is owned by the role that created it
-- (kind 'deployment'); changing it requires membership in that role, and
-- every stage switch also requires that the actor may change the model.

CREATE TABLE mlops.validations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model       text NOT NULL,
    model_id    bigint NOT NULL REFERENCES mlops.models (model_id),
    version     integer NOT NULL,
    status      text NOT NULL CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['passed', 'failed'])),
    report      jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX validations_version ON mlops.validations (model_id, version);
REVOKE ALL ON mlops.validations FROM PUBLIC;

CREATE TABLE mlops.deployments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model           text NOT NULL,
    from_version    integer,
    to_version      integer NOT NULL,
    environment     text NOT NULL
                    CHECK (environment OPERATOR(pg_catalog.=) ANY (ARRAY['staging', 'production'])),
    strategy        text NOT NULL
                    CHECK (strategy OPERATOR(pg_catalog.=) ANY (ARRAY['direct', 'canary', 'blue_green', 'shadow'])),
    percent         float8 NOT NULL
                    CHECK (percent OPERATOR(pg_catalog.>=) 0 AND percent OPERATOR(pg_catalog.<=) 100),
    state           text NOT NULL
                    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active', 'promoted', 'rolled_back', 'failed'])),
    reason          text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    model_id        bigint NOT NULL REFERENCES mlops.models (model_id),
    auto_rollback   jsonb,
    steps           jsonb,
    step_index      integer NOT NULL DEFAULT 0,
    step_started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    require_approval boolean NOT NULL DEFAULT false,
    approved_by     text,
    validation_id   bigint REFERENCES mlops.validations (id),
    owner           regrole NOT NULL
);
-- At most one pending or active deployment per model and environment.
CREATE UNIQUE INDEX deployments_one_active ON mlops.deployments (model_id, environment)
    WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active']);
REVOKE ALL ON mlops.deployments FROM PUBLIC;

CREATE TABLE mlops.deployment_events (
    event_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id bigint NOT NULL REFERENCES mlops.deployments (id),
    event         text NOT NULL,
    from_state    text,
    to_state      text,
    percent       float8,
    actor         name NOT NULL,
    reason        text,
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX deployment_events_deployment ON mlops.deployment_events (deployment_id);
REVOKE ALL ON mlops.deployment_events FROM PUBLIC;

-- Every committed change of a deployment invalidates the routing caches.
CREATE TRIGGER deployments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();

-- _deployment_stage maps an environment to its registry stage.
CREATE FUNCTION mlops._deployment_stage(environment text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF environment IS NULL OR environment OPERATOR(pg_catalog.<>) ALL (ARRAY['staging', 'production']) THEN
        RAISE EXCEPTION 'invalid environment "%"', COALESCE(mlops._clip(environment), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Environments are staging and production.';
    END IF;
    RETURN CASE environment WHEN 'staging' THEN 'Staging' ELSE 'Production' END;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_stage(text) FROM PUBLIC;

-- _check_percent refuses a traffic share outside [0, 100], NaN and infinities.
CREATE FUNCTION mlops._check_percent(value float8, argname text) RETURNS float8
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value IS NULL OR value::text OPERATOR(pg_catalog.=) ANY (ARRAY['NaN', 'Infinity', '-Infinity'])
       OR value OPERATOR(pg_catalog.<) 0 OR value OPERATOR(pg_catalog.>) 100 THEN
        RAISE EXCEPTION '% must be between 0 and 100', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Got %s.', COALESCE(value::text, 'NULL'));
    END IF;
    RETURN value;
END
$$;
REVOKE ALL ON FUNCTION mlops._check_percent(float8, text) FROM PUBLIC;

-- _deploy_option_problems lists what is wrong with auto_rollback and steps.
CREATE FUNCTION mlops._deploy_option_problems(auto_rollback jsonb, steps jsonb) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    problems text[] := '{}';
    k text;
    v jsonb;
    s jsonb;
    i integer := 0;
    n float8;
    prev float8 := -1;
BEGIN
    IF auto_rollback IS NOT NULL THEN
        IF pg_catalog.jsonb_typeof(auto_rollback) OPERATOR(pg_catalog.<>) 'object' THEN
            problems := problems OPERATOR(pg_catalog.||) 'auto_rollback must be a JSON object'::text;
        ELSE
            FOR k, v IN SELECT * FROM pg_catalog.jsonb_each(auto_rollback) LOOP
                IF k OPERATOR(pg_catalog.=) 'max_metric_drop' THEN
                    IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'object' THEN
                        problems := problems OPERATOR(pg_catalog.||) 'max_metric_drop must be an object of metric names and drops'::text;
                        CONTINUE;
                    END IF;
                    FOR k, s IN SELECT * FROM pg_catalog.jsonb_each(v) LOOP
                        IF pg_catalog.jsonb_typeof(s) OPERATOR(pg_catalog.<>) 'number'
                           OR (s::text)::float8 OPERATOR(pg_catalog.<) 0 OR (s::text)::float8 OPERATOR(pg_catalog.>) 1 THEN
                            problems := problems OPERATOR(pg_catalog.||)
                                pg_catalog.format('max_metric_drop.%s must be a number between 0 and 1', mlops._clip(k));
                        END IF;
                    END LOOP;
                ELSIF k OPERATOR(pg_catalog.=) ANY (ARRAY['max_error_rate', 'max_p95_latency_ms', 'min_requests']) THEN
                    IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'number' THEN
                        problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('%s must be a number', k);
                        CONTINUE;
                    END IF;
                    n := (v::text)::float8;
                    IF k OPERATOR(pg_catalog.=) 'max_error_rate' AND (n OPERATOR(pg_catalog.<) 0 OR n OPERATOR(pg_catalog.>) 1) THEN
                        problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('max_error_rate must be between 0 and 1, got %s', n);
                    ELSIF k OPERATOR(pg_catalog.=) 'max_p95_latency_ms' AND (n OPERATOR(pg_catalog.<=) 0 OR n OPERATOR(pg_catalog.>) 3600000) THEN
                        problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('max_p95_latency_ms must be in (0, 3600000], got %s', n);
                    ELSIF k OPERATOR(pg_catalog.=) 'min_requests' AND (n OPERATOR(pg_catalog.<) 0 OR n OPERATOR(pg_catalog.>) 1000000000 OR n OPERATOR(pg_catalog.<>) pg_catalog.floor(n)) THEN
                        problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('min_requests must be an integer between 0 and 1000000000, got %s', n);
                    END IF;
                ELSE
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('unknown auto_rollback key "%s"', mlops._clip(k));
                END IF;
            END LOOP;
        END IF;
    END IF;
    IF steps IS NOT NULL THEN
        IF pg_catalog.jsonb_typeof(steps) OPERATOR(pg_catalog.<>) 'array' THEN
            problems := problems OPERATOR(pg_catalog.||) 'steps must be a JSON array'::text;
        ELSIF pg_catalog.jsonb_array_length(steps) OPERATOR(pg_catalog.>) 100 THEN
            problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('steps has %s elements, at most 100 are allowed', pg_catalog.jsonb_array_length(steps));
        ELSE
            FOR s IN SELECT * FROM pg_catalog.jsonb_array_elements(steps) LOOP
                i := i OPERATOR(pg_catalog.+) 1;
                IF pg_catalog.jsonb_typeof(s) OPERATOR(pg_catalog.<>) 'object' THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s must be an object {"percent": .., "after": ".."}', i);
                    CONTINUE;
                END IF;
                IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(s) key
                     WHERE key OPERATOR(pg_catalog.<>) ALL (ARRAY['percent', 'after'])) OPERATOR(pg_catalog.>) 0 THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s has keys other than percent and after', i);
                END IF;
                IF pg_catalog.jsonb_typeof(s OPERATOR(pg_catalog.->) 'percent') IS DISTINCT FROM 'number'
                   OR (s OPERATOR(pg_catalog.->>) 'percent')::float8 OPERATOR(pg_catalog.<=) 0 OR (s OPERATOR(pg_catalog.->>) 'percent')::float8 OPERATOR(pg_catalog.>) 100 THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s: percent must be a number in (0, 100]', i);
                ELSIF (s OPERATOR(pg_catalog.->>) 'percent')::float8 OPERATOR(pg_catalog.<=) prev THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s: percent must grow from step to step', i);
                ELSE
                    prev := (s OPERATOR(pg_catalog.->>) 'percent')::float8;
                END IF;
                IF pg_catalog.jsonb_typeof(s OPERATOR(pg_catalog.->) 'after') IS DISTINCT FROM 'string'
                   OR pg_catalog.length(s OPERATOR(pg_catalog.->>) 'after') OPERATOR(pg_catalog.>) 100
                   OR mlops._deploy_interval(s OPERATOR(pg_catalog.->>) 'after') IS NULL THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s: after must be an interval such as "10 minutes", between 0 and 365 days', i);
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN problems;
END
$$;
REVOKE ALL ON FUNCTION mlops._deploy_option_problems(jsonb, jsonb) FROM PUBLIC;

-- _deploy_interval reads a step's "after", NULL when it is not an interval
-- between 0 and 365 days.
CREATE FUNCTION mlops._deploy_interval(s text) RETURNS interval
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    i interval;
BEGIN
    i := s::interval;
    IF i OPERATOR(pg_catalog.<) '0'::interval OR i OPERATOR(pg_catalog.>) '365 days'::interval THEN
        RETURN NULL;
    END IF;
    RETURN i;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mlops._deploy_interval(text) FROM PUBLIC;

-- _feature_signature: a version's features (name and type, in order), NULL
-- without an input schema.
CREATE FUNCTION mlops._feature_signature(model_id bigint, version integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(f.value OPERATOR(pg_catalog.->) 'name', f.value OPERATOR(pg_catalog.->) 'type') ORDER BY f.ordinality)
      FROM mlops.model_versions v, pg_catalog.jsonb_array_elements(v.input_schema OPERATOR(pg_catalog.->) 'features') WITH ORDINALITY f
     WHERE v.model_id OPERATOR(pg_catalog.=) $1 AND v.version OPERATOR(pg_catalog.=) $2
$$;
REVOKE ALL ON FUNCTION mlops._feature_signature(bigint, integer) FROM PUBLIC;

-- _deployment_event records one state change of a deployment and audits it.
CREATE FUNCTION mlops._deployment_event(d mlops.deployments, event text, from_state text, reason text,
                                        details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    INSERT INTO mlops.deployment_events (deployment_id, event, from_state, to_state, percent, actor, reason, details)
    VALUES (d.id, event, from_state, d.state, d.percent, mlops.current_actor(), reason, COALESCE(details, '{}'));
    PERFORM mlops._audit_event('deployment.' OPERATOR(pg_catalog.||) event, 'deployment', d.id::text,
        pg_catalog.jsonb_build_object('model', d.model, 'from_version', d.from_version,
            'to_version', d.to_version, 'environment', d.environment, 'strategy', d.strategy,
            'percent', d.percent, 'from_state', from_state, 'to_state', d.state, 'reason', reason)
        OPERATOR(pg_catalog.||) COALESCE(details, '{}'));
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_event(mlops.deployments, text, text, text, jsonb) FROM PUBLIC;

-- _deployment_for_update locks a deployment to change it and checks that
-- the actor may change it.
CREATE FUNCTION mlops._deployment_for_update(deployment_id bigint) RETURNS mlops.deployments
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d mlops.deployments;
BEGIN
    SELECT * INTO d FROM mlops.deployments x WHERE x.id OPERATOR(pg_catalog.=) deployment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'deployment % does not exist', COALESCE(deployment_id::text, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'The deployments are listed in mlops.deployments.';
    END IF;
    PERFORM mlops._require_owner('deployment', d.id::text, d.owner);
    RETURN d;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_for_update(bigint) FROM PUBLIC;

-- _deployment_switch moves the deployment's candidate into its stage (the
-- actor must be allowed to change the model) and marks it promoted.
CREATE FUNCTION mlops._deployment_switch(d mlops.deployments, event text, reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    before text := d.state;
BEGIN
    PERFORM mlops._impl_transition_stage(d.model, d.to_version, mlops._deployment_stage(d.environment), true);
    UPDATE mlops.deployments x SET state = 'promoted', percent = 100, updated_at = pg_catalog.now(),
           reason = COALESCE(_deployment_switch.reason, x.reason)
     WHERE x.id OPERATOR(pg_catalog.=) d.id
     RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, event, before, reason);
    RETURN d.to_version;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_switch(mlops.deployments, text, text) FROM PUBLIC;

-- deploy starts a deployment of one version and returns its id.
CREATE FUNCTION mlops._impl_deploy(model text, version integer, environment text, strategy text,
                                   canary_percent float8, require_validation boolean,
                                   auto_rollback jsonb, steps jsonb, require_approval boolean)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    stage text := mlops._deployment_stage(environment);
    problems text[];
    r mlops.model_versions;
    stable integer;
    existing mlops.deployments;
    vid bigint;
    d mlops.deployments;
BEGIN
    IF model IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'model and version must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.strpos(model, '/') OPERATOR(pg_catalog.>) 0 OR pg_catalog.strpos(model, '@') OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'model must be a model name, not the reference "%"', mlops._clip(model)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the name and the version separately, as in mlops.deploy(''churn'', 3).';
    END IF;
    IF strategy IS NULL OR strategy OPERATOR(pg_catalog.<>) ALL (ARRAY['direct', 'canary', 'blue_green', 'shadow']) THEN
        RAISE EXCEPTION 'invalid deployment strategy "%"', COALESCE(mlops._clip(strategy), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Strategies are direct, canary, blue_green and shadow.';
    END IF;
    PERFORM mlops._check_percent(canary_percent, 'canary_percent');
    problems := mlops._deploy_option_problems(auto_rollback, steps);
    IF pg_catalog.cardinality(problems) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'invalid deployment options'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Problems: %s.', mlops._list(problems)),
                  HINT = 'See docs/deployments.md for auto_rollback and steps.';
    END IF;
    IF stage OPERATOR(pg_catalog.=) 'Staging' AND strategy OPERATOR(pg_catalog.<>) 'direct' THEN
        RAISE EXCEPTION 'strategy % is for production', strategy
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Predictions route between versions of the Production stage only.',
                  HINT = 'Deploy to staging with strategy => ''direct''.';
    END IF;
    -- locks the model and checks that the actor may change it
    r := mlops._version_for_update(model, version);
    SELECT mv.version INTO stable FROM mlops.model_versions mv
     WHERE mv.model_id OPERATOR(pg_catalog.=) r.model_id AND mv.stage OPERATOR(pg_catalog.=) stage
     ORDER BY mv.version DESC LIMIT 1;
    IF stable OPERATOR(pg_catalog.=) version THEN
        RAISE EXCEPTION 'model "%" version % is already in %', mlops._clip(model), version, stage
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF stable IS NULL AND strategy OPERATOR(pg_catalog.<>) 'direct' THEN
        RAISE EXCEPTION 'model "%" has no % version to compare the candidate with', mlops._clip(model), stage
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('A %s deployment splits traffic between the stable version and the candidate.', strategy),
                  HINT = 'Deploy the first version with strategy => ''direct''.';
    END IF;
    IF strategy OPERATOR(pg_catalog.=) 'shadow'
       AND mlops._feature_signature(r.model_id, stable) IS DISTINCT FROM mlops._feature_signature(r.model_id, version) THEN
        RAISE EXCEPTION 'a shadow must take the same features as the stable version'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = pg_catalog.format('Version %s takes %s; version %s takes %s.', stable,
                      COALESCE(mlops._clip(mlops._feature_signature(r.model_id, stable)::text), 'no named features'), version,
                      COALESCE(mlops._clip(mlops._feature_signature(r.model_id, version)::text), 'no named features')),
                  HINT = 'Compare them with a canary instead.';
    END IF;
    SELECT * INTO existing FROM mlops.deployments x
     WHERE x.model_id OPERATOR(pg_catalog.=) r.model_id AND x.environment OPERATOR(pg_catalog.=) environment
       AND x.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active']);
    IF FOUND THEN
        RAISE EXCEPTION 'model "%" already has a deployment in %', mlops._clip(model), environment
            USING ERRCODE = 'unique_violation',
                  DETAIL = pg_catalog.format('Deployment %s (%s, %s) moves version %s to %s.', existing.id,
                                             existing.strategy, existing.state, existing.to_version, environment),
                  HINT = 'Promote it with mlops.promote_deployment() or end it with mlops.rollback() first.';
    END IF;
    IF COALESCE(require_validation, true) THEN
        SELECT x.id INTO vid FROM mlops.validations x
         WHERE x.model_id OPERATOR(pg_catalog.=) r.model_id AND x.version OPERATOR(pg_catalog.=) version
           AND x.status OPERATOR(pg_catalog.=) 'passed'
         ORDER BY x.id DESC LIMIT 1;
        IF vid IS NULL THEN
            RAISE EXCEPTION 'model "%" version % has no passed validation', mlops._clip(model), version
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run mlops.validate_model() on labelled data first, or pass require_validation => false.';
        END IF;
    END IF;
    INSERT INTO mlops.deployments (model, from_version, to_version, environment, strategy, percent, state,
                                   created_by, model_id, auto_rollback, steps, require_approval,
                                   validation_id, owner)
    VALUES (model, stable, version, environment, strategy,
            CASE strategy WHEN 'canary' THEN canary_percent WHEN 'direct' THEN 100 ELSE 0 END,
            CASE WHEN COALESCE(require_approval, false) THEN 'pending' ELSE 'active' END,
            mlops.current_actor(), r.model_id, auto_rollback, steps, COALESCE(require_approval, false),
            vid, mlops.current_actor()::regrole)
    RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, 'create', NULL, NULL,
        pg_catalog.jsonb_build_object('validation_id', vid, 'require_approval', COALESCE(require_approval, false)));
    IF strategy OPERATOR(pg_catalog.=) 'direct' AND d.state OPERATOR(pg_catalog.=) 'active' THEN
        PERFORM mlops._deployment_switch(d, 'promote', NULL);
    END IF;
    RETURN d.id;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_deploy(text, integer, text, text, float8, boolean, jsonb, jsonb, boolean) FROM PUBLIC;
CREATE FUNCTION mlops.deploy(model text, version integer, environment text DEFAULT 'production',
                             strategy text DEFAULT 'canary', canary_percent float8 DEFAULT 10,
                             require_validation boolean DEFAULT true, auto_rollback jsonb DEFAULT NULL,
                             steps jsonb DEFAULT NULL, require_approval boolean DEFAULT false)
    RETURNS bigint LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.deploy(text, integer, text, text, float8, boolean, jsonb, jsonb, boolean) FROM PUBLIC;

-- promote_deployment moves an active deployment's candidate into its
-- stage (the stable version is archived) and returns the version now serving.
CREATE FUNCTION mlops._impl_promote_deployment(deployment_id bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d mlops.deployments := mlops._deployment_for_update(deployment_id);
BEGIN
    IF d.state OPERATOR(pg_catalog.<>) 'active' THEN
        RAISE EXCEPTION 'deployment % is %, not active', d.id, d.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN d.state OPERATOR(pg_catalog.=) 'pending'
                              THEN 'Another role with the deployer capability approves it with mlops.approve_deployment().'
                              ELSE 'Only an active deployment can be promoted.' END;
    END IF;
    RETURN mlops._deployment_switch(d, 'promote', NULL);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_promote_deployment(bigint) FROM PUBLIC;
CREATE FUNCTION mlops.promote_deployment(deployment_id bigint) RETURNS integer
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.promote_deployment(bigint) FROM PUBLIC;

-- set_canary_percent changes the candidate's share of an active canary.
CREATE FUNCTION mlops._impl_set_canary_percent(deployment_id bigint, percent float8) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    d mlops.deployments;
    old float8;
BEGIN
    PERFORM mlops._check_percent(percent, 'percent');
    d := mlops._deployment_for_update(deployment_id);
    IF d.strategy OPERATOR(pg_catalog.<>) 'canary' OR d.state OPERATOR(pg_catalog.<>) ALL (ARRAY['pending', 'active']) THEN
        RAISE EXCEPTION 'deployment % is not a pending or active canary', d.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It is a %s deployment in state %s.', d.strategy, d.state);
    END IF;
    old := d.percent;
    UPDATE mlops.deployments x SET percent = percent, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, 'set_percent', d.state, NULL,
                                    pg_catalog.jsonb_build_object('old_percent', old));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_canary_percent(bigint, float8) FROM PUBLIC;
CREATE FUNCTION mlops.set_canary_percent(deployment_id bigint, percent float8) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_canary_percent(bigint, float8) FROM PUBLIC;

-- rollback ends the pending or active deployment of a model in an
-- environment, or, when there is none, returns the stage to the version it
-- had before the last promoted deployment; it returns the version now serving.
CREATE FUNCTION mlops._impl_rollback(model text, environment text, reason text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    stage text := mlops._deployment_stage(environment);
    mid bigint;
    d mlops.deployments;
    before text;
    serving integer;
BEGIN
    IF reason IS NOT NULL AND pg_catalog.length(reason) OPERATOR(pg_catalog.>) 1000 THEN
        RAISE EXCEPTION 'reason is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('A reason has at most 1000 characters; this one has %s.', pg_catalog.length(reason));
    END IF;
    mid := mlops._model_for_update(model);
    SELECT * INTO d FROM mlops.deployments x
     WHERE x.model_id OPERATOR(pg_catalog.=) mid AND x.environment OPERATOR(pg_catalog.=) environment
       AND x.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active'])
       FOR UPDATE;
    IF FOUND THEN
        PERFORM mlops._require_owner('deployment', d.id::text, d.owner);
        before := d.state;
        UPDATE mlops.deployments x SET state = 'rolled_back', percent = 0, reason = _impl_rollback.reason,
               updated_at = pg_catalog.now()
         WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
        PERFORM mlops._deployment_event(d, 'rollback', before, reason);
        SELECT mv.version INTO serving FROM mlops.model_versions mv
         WHERE mv.model_id OPERATOR(pg_catalog.=) mid AND mv.stage OPERATOR(pg_catalog.=) stage
         ORDER BY mv.version DESC LIMIT 1;
        RETURN serving;
    END IF;
    SELECT * INTO d FROM mlops.deployments x
     WHERE x.model_id OPERATOR(pg_catalog.=) mid AND x.environment OPERATOR(pg_catalog.=) environment
       AND x.state OPERATOR(pg_catalog.=) 'promoted'
     ORDER BY x.id DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no deployment in % to roll back', mlops._clip(model), environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'mlops.deployments lists the model''s deployments.';
    END IF;
    PERFORM mlops._require_owner('deployment', d.id::text, d.owner);
    IF d.from_version IS NULL THEN
        RAISE EXCEPTION 'model "%" had no % version before deployment %', mlops._clip(model), stage, d.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Move a version into the stage with mlops.transition_stage().';
    END IF;
    PERFORM mlops._impl_transition_stage(model, d.from_version, stage, true);
    UPDATE mlops.deployments x SET state = 'rolled_back', reason = _impl_rollback.reason, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, 'rollback', 'promoted', reason,
                                    pg_catalog.jsonb_build_object('restored_version', d.from_version));
    RETURN d.from_version;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_rollback(text, text, text) FROM PUBLIC;
CREATE FUNCTION mlops.rollback(model text, environment text DEFAULT 'production', reason text DEFAULT NULL)
    RETURNS integer LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.rollback(text, text, text) FROM PUBLIC;

-- approve_deployment lets a pending deployment start; the approver must be
-- another role than the one that deployed it (and, for a direct switch,
-- allowed to change the model).
CREATE FUNCTION mlops._impl_approve_deployment(deployment_id bigint, comment text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d mlops.deployments;
BEGIN
    IF comment IS NOT NULL AND pg_catalog.length(comment) OPERATOR(pg_catalog.>) 1000 THEN
        RAISE EXCEPTION 'comment is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('A comment has at most 1000 characters; this one has %s.', pg_catalog.length(comment));
    END IF;
    SELECT * INTO d FROM mlops.deployments x WHERE x.id OPERATOR(pg_catalog.=) deployment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'deployment % does not exist', COALESCE(deployment_id::text, 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    IF d.state OPERATOR(pg_catalog.<>) 'pending' THEN
        RAISE EXCEPTION 'deployment % is %, not pending', d.id, d.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF mlops.current_actor() OPERATOR(pg_catalog.=) d.created_by THEN
        RAISE EXCEPTION 'role "%" cannot approve its own deployment', d.created_by
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another role with the deployer capability must approve it.';
    END IF;
    UPDATE mlops.deployments x SET state = 'active', approved_by = mlops.current_actor(), updated_at = pg_catalog.now(),
           step_started_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, 'approve', 'pending', comment);
    IF d.strategy OPERATOR(pg_catalog.=) 'direct' THEN
        PERFORM mlops._deployment_switch(d, 'promote', NULL);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_approve_deployment(bigint, text) FROM PUBLIC;
CREATE FUNCTION mlops.approve_deployment(deployment_id bigint, comment text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.approve_deployment(bigint, text) FROM PUBLIC;

-- refuse_deployment: another role refuses a pending deployment, which
-- fails (nothing was switched); audited like an approval.
CREATE FUNCTION mlops._impl_refuse_deployment(deployment_id bigint, reason text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d mlops.deployments;
BEGIN
    IF reason IS NOT NULL AND pg_catalog.length(reason) OPERATOR(pg_catalog.>) 1000 THEN
        RAISE EXCEPTION 'reason is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('A reason has at most 1000 characters; this one has %s.', pg_catalog.length(reason));
    END IF;
    SELECT * INTO d FROM mlops.deployments x WHERE x.id OPERATOR(pg_catalog.=) deployment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'deployment % does not exist', COALESCE(deployment_id::text, 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    IF d.state OPERATOR(pg_catalog.<>) 'pending' THEN
        RAISE EXCEPTION 'deployment % is %, not pending', d.id, d.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF mlops.current_actor() OPERATOR(pg_catalog.=) d.created_by THEN
        RAISE EXCEPTION 'role "%" cannot refuse its own deployment', d.created_by
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'End it with mlops.rollback().';
    END IF;
    UPDATE mlops.deployments x SET state = 'failed', reason = _impl_refuse_deployment.reason, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
    PERFORM mlops._deployment_event(d, 'refuse', 'pending', reason);
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_refuse_deployment(bigint, text) FROM PUBLIC;
CREATE FUNCTION mlops.refuse_deployment(deployment_id bigint, reason text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.refuse_deployment(bigint, text) FROM PUBLIC;

-- predict_detail: one prediction with the version and variant that served it.
CREATE FUNCTION mlops.predict_detail(model text, features jsonb, routing_key text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'mlops_predict_detail';
REVOKE ALL ON FUNCTION mlops.predict_detail(text, jsonb, text) FROM PUBLIC;

-- _deployment_routes: what predictions route to, read by serve/routing.c
-- as the extension owner (the active production deployments).
CREATE FUNCTION mlops._deployment_route(model text)
    RETURNS TABLE(id bigint, from_version integer, to_version integer, strategy text, percent float8,
                  created_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT d.id, d.from_version, d.to_version, d.strategy, d.percent, d.created_at
      FROM mlops.deployments d
     WHERE d.model OPERATOR(pg_catalog.=) $1 AND d.environment OPERATOR(pg_catalog.=) 'production'
       AND d.state OPERATOR(pg_catalog.=) 'active'
$$;
REVOKE ALL ON FUNCTION mlops._deployment_route(text) FROM PUBLIC;

-- _shadow_stats: shadow candidates' comparisons with the served version,
-- kept in shared memory since the server started, for this database's
-- deployments (serve/routing.c).
CREATE FUNCTION mlops._shadow_stats()
    RETURNS TABLE(deployment_id bigint, created_at timestamptz, comparisons bigint, agreements bigint,
                  errors bigint, mean_abs_diff float8)
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_shadow_stats';
REVOKE ALL ON FUNCTION mlops._shadow_stats() FROM PUBLIC;

-- validate_model checks a version on labelled rows (schema, metrics with the
-- code of model_metrics, p95 one-row latency, sanity, regression against
-- compare_to) and records the report in mlops.validations; it reads the
-- source as the caller (src/deploy/validate.c).
CREATE FUNCTION mlops.validate_model(model text, source text, target text, min_metrics jsonb DEFAULT '{}',
                                     max_latency_ms float8 DEFAULT NULL, compare_to text DEFAULT NULL,
                                     max_regression float8 DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    AS 'MODULE_PATHNAME', 'mlops_validate_model';
REVOKE ALL ON FUNCTION mlops.validate_model(text, text, text, jsonb, float8, text, float8) FROM PUBLIC;

-- _deployment_version_stats: one version's serving statistics since the
-- statistics were last reset (mlops.prediction_stats).
CREATE FUNCTION mlops._deployment_version_stats(model text, version integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.jsonb_build_object('version', $2,
               'calls', COALESCE(s.calls, 0), 'errors', COALESCE(s.errors, 0),
               'error_rate', CASE WHEN COALESCE(s.calls, 0) OPERATOR(pg_catalog.>) 0
                                  THEN s.errors::float8 OPERATOR(pg_catalog./) s.calls END,
               'p50_ms', s.p50_ms, 'p95_ms', s.p95_ms, 'p99_ms', s.p99_ms)
      FROM (SELECT 1) one
      LEFT JOIN mlops._prediction_stats() s
        ON s.model OPERATOR(pg_catalog.=) $1 AND s.version OPERATOR(pg_catalog.=) $2
$$;
REVOKE ALL ON FUNCTION mlops._deployment_version_stats(text, integer) FROM PUBLIC;

-- _deployment_labelled_metrics: the model's labelled metrics since the
-- deployment started (mlops.model_metrics over its monitor), or NULL when it
-- has no monitor or no labels yet.
CREATE FUNCTION mlops._deployment_labelled_metrics(d mlops.deployments) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mlops.monitors x WHERE x.model OPERATOR(pg_catalog.=) d.model) THEN
        RETURN NULL;
    END IF;
    m := mlops.model_metrics(d.model, d.created_at);
    IF COALESCE((m OPERATOR(pg_catalog.->>) 'rows')::bigint, 0) OPERATOR(pg_catalog.=) 0 THEN
        RETURN NULL;
    END IF;
    RETURN m;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_labelled_metrics(mlops.deployments) FROM PUBLIC;

-- deployment_status: the model's current (or last) production deployment
-- with per-version traffic, errors and latency, labelled metrics and, for
-- a shadow, how its outputs compare with the served ones.
CREATE FUNCTION mlops.deployment_status(model text) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    d mlops.deployments;
    stable jsonb;
    candidate jsonb;
    shadow jsonb;
    serving integer;
BEGIN
    IF model IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mlops.models m WHERE m.name OPERATOR(pg_catalog.=) model) THEN
        RAISE EXCEPTION 'model "%" does not exist', mlops._clip(model)
            USING ERRCODE = 'undefined_object', HINT = mlops._models_hint();
    END IF;
    SELECT mv.version INTO serving FROM mlops.model_versions mv JOIN mlops.models m USING (model_id)
     WHERE m.name OPERATOR(pg_catalog.=) model AND mv.stage OPERATOR(pg_catalog.=) 'Production';
    SELECT * INTO d FROM mlops.deployments x
     WHERE x.model OPERATOR(pg_catalog.=) model AND x.environment OPERATOR(pg_catalog.=) 'production'
     ORDER BY (x.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active'])) DESC, x.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN pg_catalog.jsonb_build_object('model', model, 'production_version', serving, 'deployment', NULL);
    END IF;
    IF d.from_version IS NOT NULL THEN
        stable := mlops._deployment_version_stats(model, d.from_version);
    END IF;
    candidate := mlops._deployment_version_stats(model, d.to_version);
    IF d.strategy OPERATOR(pg_catalog.=) 'shadow' THEN
        SELECT pg_catalog.jsonb_build_object('comparisons', s.comparisons, 'errors', s.errors,
                   'agreement_rate', CASE WHEN s.comparisons OPERATOR(pg_catalog.>) 0
                                          THEN s.agreements::float8 OPERATOR(pg_catalog./) s.comparisons END,
                   'mean_abs_diff', s.mean_abs_diff)
          INTO shadow FROM mlops._shadow_stats() s
         WHERE s.deployment_id OPERATOR(pg_catalog.=) d.id AND s.created_at OPERATOR(pg_catalog.=) d.created_at;
        shadow := COALESCE(shadow, '{"comparisons": 0, "errors": 0, "agreement_rate": null, "mean_abs_diff": null}');
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'model', model, 'production_version', serving,
        'deployment', pg_catalog.jsonb_build_object(
            'id', d.id, 'strategy', d.strategy, 'state', d.state, 'percent', d.percent,
            'from_version', d.from_version, 'to_version', d.to_version, 'step', d.step_index,
            'steps', d.steps, 'auto_rollback', d.auto_rollback, 'reason', d.reason,
            'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at),
        'stable', stable, 'candidate', candidate,
        'labelled_metrics', mlops._deployment_labelled_metrics(d),
        'shadow', shadow);
END
$$;
REVOKE ALL ON FUNCTION mlops.deployment_status(text) FROM PUBLIC;

-- _deployment_breach says which auto_rollback threshold an active
-- deployment's candidate breaks (NULL: none, or too few requests yet).
CREATE FUNCTION mlops._deployment_breach(d mlops.deployments, cand jsonb) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ar jsonb := d.auto_rollback;
    m jsonb;
    baseline jsonb;
    k text;
    drop_allowed float8;
    dropped float8;
BEGIN
    IF ar IS NULL OR (cand OPERATOR(pg_catalog.->>) 'calls')::bigint OPERATOR(pg_catalog.<) COALESCE((ar OPERATOR(pg_catalog.->>) 'min_requests')::float8, 0) THEN
        RETURN NULL;
    END IF;
    IF ar OPERATOR(pg_catalog.?) 'max_error_rate' AND (cand OPERATOR(pg_catalog.->>) 'error_rate')::float8 OPERATOR(pg_catalog.>) (ar OPERATOR(pg_catalog.->>) 'max_error_rate')::float8 THEN
        RETURN pg_catalog.format('error rate %s above max_error_rate %s', cand OPERATOR(pg_catalog.->>) 'error_rate', ar OPERATOR(pg_catalog.->>) 'max_error_rate');
    END IF;
    IF ar OPERATOR(pg_catalog.?) 'max_p95_latency_ms' AND (cand OPERATOR(pg_catalog.->>) 'p95_ms')::float8 OPERATOR(pg_catalog.>) (ar OPERATOR(pg_catalog.->>) 'max_p95_latency_ms')::float8 THEN
        RETURN pg_catalog.format('p95 latency %s ms above max_p95_latency_ms %s', cand OPERATOR(pg_catalog.->>) 'p95_ms', ar OPERATOR(pg_catalog.->>) 'max_p95_latency_ms');
    END IF;
    IF ar OPERATOR(pg_catalog.?) 'max_metric_drop' THEN
        m := mlops._deployment_labelled_metrics(d);
        SELECT x.baseline_metrics INTO baseline FROM mlops.monitors x WHERE x.model OPERATOR(pg_catalog.=) d.model;
        IF m IS NOT NULL AND baseline IS NOT NULL THEN
            FOR k, drop_allowed IN SELECT e.key, e.value::text::float8 FROM pg_catalog.jsonb_each(ar OPERATOR(pg_catalog.->) 'max_metric_drop') e LOOP
                IF pg_catalog.jsonb_typeof(m OPERATOR(pg_catalog.->) k) OPERATOR(pg_catalog.=) 'number'
                   AND pg_catalog.jsonb_typeof(baseline OPERATOR(pg_catalog.->) k) OPERATOR(pg_catalog.=) 'number' THEN
                    dropped := CASE WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['mae', 'mse', 'rmse', 'mape'])
                                    THEN (m OPERATOR(pg_catalog.->>) k)::float8 OPERATOR(pg_catalog.-) (baseline OPERATOR(pg_catalog.->>) k)::float8
                                    ELSE (baseline OPERATOR(pg_catalog.->>) k)::float8 OPERATOR(pg_catalog.-) (m OPERATOR(pg_catalog.->>) k)::float8 END;
                    IF dropped OPERATOR(pg_catalog.>) drop_allowed THEN
                        RETURN pg_catalog.format('%s dropped by %s since the deployment started, more than %s',
                                                 k, dropped, drop_allowed);
                    END IF;
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_breach(mlops.deployments, jsonb) FROM PUBLIC;

-- _deployment_alert stores an alert about a deployment and announces it on
-- mlops_alerts, the channel and payload of every alert (src/monitor/alerts.c).
CREATE FUNCTION mlops._deployment_alert(d mlops.deployments, what text, evidence jsonb) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a mlops.alerts;
BEGIN
    INSERT INTO mlops.alerts (rule_id, rule_name, severity, condition, source, metrics, labels, fired_at, owner)
    VALUES ('deployment_rollback', 'deployment rolled back automatically', 'critical', what,
            'deployment:' OPERATOR(pg_catalog.||) d.id, COALESCE(evidence, '{}'),
            pg_catalog.jsonb_build_object('model', d.model, 'deployment_id', d.id,
                                          'from_version', d.from_version, 'to_version', d.to_version),
            pg_catalog.clock_timestamp(), d.owner)
    RETURNING * INTO a;
    PERFORM pg_catalog.pg_notify('mlops_alerts',
        pg_catalog.jsonb_build_object('alert_id', a.alert_id, 'severity', a.severity)::text);
    RETURN a.alert_id;
END
$$;
REVOKE ALL ON FUNCTION mlops._deployment_alert(mlops.deployments, text, jsonb) FROM PUBLIC;

-- check_deployments applies auto_rollback and steps to every active canary
-- or shadow deployment the actor may change (the scheduler: all of them);
-- it returns what it did.
CREATE FUNCTION mlops._impl_check_deployments()
    RETURNS TABLE(deployment_id bigint, model text, action text, detail text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    d mlops.deployments;
    cand jsonb;
    breach text;
    step jsonb;
    before text;
BEGIN
    FOR d IN
        SELECT * FROM mlops.deployments x
         WHERE x.state OPERATOR(pg_catalog.=) 'active' AND x.strategy OPERATOR(pg_catalog.=) ANY (ARRAY['canary', 'shadow'])
           AND mlops._may_change(x.owner)
         ORDER BY x.id FOR UPDATE SKIP LOCKED
    LOOP
        cand := mlops._deployment_version_stats(d.model, d.to_version);
        breach := mlops._deployment_breach(d, cand);
        IF breach IS NOT NULL THEN
            before := d.state;
            UPDATE mlops.deployments x SET state = 'rolled_back', percent = 0,
                   reason = 'automatic rollback: ' OPERATOR(pg_catalog.||) breach, updated_at = pg_catalog.clock_timestamp()
             WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
            PERFORM mlops._deployment_event(d, 'auto_rollback', before, breach,
                pg_catalog.jsonb_build_object('candidate', cand,
                    'alert_id', mlops._deployment_alert(d, breach, cand)));
            deployment_id := d.id; model := d.model; action := 'rolled_back'; detail := breach;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF d.strategy OPERATOR(pg_catalog.<>) 'canary' OR d.steps IS NULL
           OR d.step_index OPERATOR(pg_catalog.>=) pg_catalog.jsonb_array_length(d.steps)
           OR (cand OPERATOR(pg_catalog.->>) 'calls')::bigint OPERATOR(pg_catalog.<) COALESCE((d.auto_rollback OPERATOR(pg_catalog.->>) 'min_requests')::float8, 0) THEN
            CONTINUE;
        END IF;
        step := d.steps OPERATOR(pg_catalog.->) d.step_index;
        IF pg_catalog.clock_timestamp() OPERATOR(pg_catalog.<) (d.step_started_at OPERATOR(pg_catalog.+) mlops._deploy_interval(step OPERATOR(pg_catalog.->>) 'after')) THEN
            CONTINUE;
        END IF;
        IF (step OPERATOR(pg_catalog.->>) 'percent')::float8 OPERATOR(pg_catalog.>=) 100 THEN
            PERFORM mlops._deployment_switch(d, 'promote', 'canary steps completed');
            deployment_id := d.id; model := d.model; action := 'promoted'; detail := 'canary steps completed';
        ELSE
            UPDATE mlops.deployments x SET percent = (step OPERATOR(pg_catalog.->>) 'percent')::float8, step_index = x.step_index OPERATOR(pg_catalog.+) 1,
                   step_started_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp()
             WHERE x.id OPERATOR(pg_catalog.=) d.id RETURNING * INTO d;
            PERFORM mlops._deployment_event(d, 'step', d.state, NULL,
                                            pg_catalog.jsonb_build_object('step', d.step_index, 'candidate', cand));
            deployment_id := d.id; model := d.model; action := 'stepped';
            detail := pg_catalog.format('canary at %s%%', d.percent);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_check_deployments() FROM PUBLIC;
CREATE FUNCTION mlops.check_deployments()
    RETURNS TABLE(deployment_id bigint, model text, action text, detail text)
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.check_deployments() FROM PUBLIC;

-- deployment_pipeline: validate (when validation names labelled data) and
-- deploy, recorded in mlops.pipeline_runs like every pipeline
-- (src/sched/pipelines.c runs it as the caller).  validation is
-- {"source", "target", "min_metrics", "max_latency_ms", "compare_to",
-- "max_regression"}; model_version NULL deploys the latest version.  Like
-- the other pipelines it runs with the caller's search_path (its source is
-- the caller's), every name and operator in it schema-qualified.
CREATE FUNCTION mlops._impl_deployment_pipeline(p_model_name text, p_model_version integer, p_environment text,
                                                p_strategy text, p_canary_percentage float8, p_validation jsonb,
                                                p_auto_rollback jsonb, p_steps jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
DECLARE
    params jsonb := pg_catalog.jsonb_build_object(
        'model_name', p_model_name, 'model_version', p_model_version, 'environment', p_environment,
        'strategy', p_strategy, 'canary_percentage', p_canary_percentage, 'validation', p_validation,
        'auto_rollback', p_auto_rollback, 'steps', p_steps);
    steps jsonb := '[]';
    step text;
    step_status text;
    step_result jsonb;
    t0 timestamptz;
    v integer := p_model_version;
    report jsonb;
    deployment bigint;
    bad text[];
    msg text;
    det text;
    state text;
BEGIN
    BEGIN
        FOREACH step IN ARRAY ARRAY['resolve', 'validate', 'deploy'] LOOP
            t0 := pg_catalog.clock_timestamp();
            step_status := 'succeeded';
            IF step OPERATOR(pg_catalog.=) 'resolve' THEN
                IF p_model_name IS NULL THEN
                    RAISE EXCEPTION 'model_name must not be null' USING ERRCODE = 'null_value_not_allowed';
                END IF;
                IF v IS NULL THEN
                    SELECT r.version INTO v FROM mlops.resolve_model(p_model_name OPERATOR(pg_catalog.||) '/latest') r;
                END IF;
                step_result := pg_catalog.jsonb_build_object('model', p_model_name, 'version', v);
            ELSIF step OPERATOR(pg_catalog.=) 'validate' THEN
                IF p_validation IS NULL THEN
                    step_status := 'skipped';
                    step_result := pg_catalog.jsonb_build_object('reason', 'no validation data given');
                ELSE
                    IF pg_catalog.jsonb_typeof(p_validation) OPERATOR(pg_catalog.<>) 'object'
                       OR NOT (p_validation OPERATOR(pg_catalog.?) 'source' AND p_validation OPERATOR(pg_catalog.?) 'target') THEN
                        RAISE EXCEPTION 'validation must be an object with "source" and "target"'
                            USING ERRCODE = 'invalid_parameter_value',
                                  HINT = 'For example ''{"source": "holdout", "target": "churned", "min_metrics": {"accuracy": 0.8}}''.';
                    END IF;
                    SELECT pg_catalog.array_agg(k ORDER BY k) INTO bad FROM pg_catalog.jsonb_object_keys(p_validation) k
                     WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['source', 'target', 'min_metrics', 'max_latency_ms',
                                                                 'compare_to', 'max_regression']);
                    IF bad IS NOT NULL THEN
                        RAISE EXCEPTION 'unknown validation keys: %', pg_catalog.left(pg_catalog.array_to_string(bad, ', '), 200)
                            USING ERRCODE = 'invalid_parameter_value',
                                  HINT = 'The keys are source, target, min_metrics, max_latency_ms, compare_to and max_regression.';
                    END IF;
                    report := mlops.validate_model(p_model_name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) v,
                                                   p_validation OPERATOR(pg_catalog.->>) 'source', p_validation OPERATOR(pg_catalog.->>) 'target',
                                                   COALESCE(p_validation OPERATOR(pg_catalog.->) 'min_metrics', '{}'),
                                                   (p_validation OPERATOR(pg_catalog.->>) 'max_latency_ms')::float8,
                                                   p_validation OPERATOR(pg_catalog.->>) 'compare_to',
                                                   (p_validation OPERATOR(pg_catalog.->>) 'max_regression')::float8);
                    step_result := report;
                    IF report OPERATOR(pg_catalog.->>) 'status' OPERATOR(pg_catalog.<>) 'passed' THEN
                        RAISE EXCEPTION 'model "%" version % failed its validation', pg_catalog.left(p_model_name, 200), v
                            USING ERRCODE = 'check_violation',
                                  DETAIL = pg_catalog.format('Failed checks: %s.',
                                      (SELECT pg_catalog.string_agg(c OPERATOR(pg_catalog.->>) 'name', ', ')
                                         FROM pg_catalog.jsonb_array_elements(report OPERATOR(pg_catalog.->) 'checks') c
                                        WHERE c OPERATOR(pg_catalog.->>) 'status' OPERATOR(pg_catalog.=) 'failed'));
                    END IF;
                END IF;
            ELSE
                deployment := mlops.deploy(p_model_name, v, COALESCE(p_environment, 'production'),
                                           COALESCE(p_strategy, 'canary'), COALESCE(p_canary_percentage, 10),
                                           true, p_auto_rollback, p_steps);
                SELECT pg_catalog.jsonb_build_object('deployment_id', d.id, 'state', d.state, 'strategy', d.strategy,
                                                     'percent', d.percent, 'from_version', d.from_version,
                                                     'to_version', d.to_version)
                  INTO step_result FROM mlops.deployments d WHERE d.id OPERATOR(pg_catalog.=) deployment;
            END IF;
            steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'step', step, 'status', step_status,
                'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
                'result', step_result));
        END LOOP;
        RETURN pg_catalog.jsonb_build_object('status', 'succeeded', 'parameters', params, 'steps', steps,
            'result', step_result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
                'model', p_model_name, 'version', v, 'validation_id', report OPERATOR(pg_catalog.->) 'validation_id'));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
        steps := steps OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'step', step, 'status', 'failed',
            'seconds', EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0),
            'error', msg, 'result', step_result));
        RETURN pg_catalog.jsonb_build_object('status', 'failed', 'parameters', params, 'steps', steps,
                                             'error', msg, 'error_detail', NULLIF(det, ''), 'sqlstate', state);
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_deployment_pipeline(text, integer, text, text, float8, jsonb, jsonb, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.deployment_pipeline(model_name text, model_version integer, environment text DEFAULT 'production',
                                          strategy text DEFAULT 'canary', canary_percentage float8 DEFAULT 10,
                                          validation jsonb DEFAULT NULL, auto_rollback jsonb DEFAULT NULL,
                                          steps jsonb DEFAULT NULL)
    RETURNS jsonb LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_pipeline_trampoline';
REVOKE ALL ON FUNCTION mlops.deployment_pipeline(text, integer, text, text, float8, jsonb, jsonb, jsonb) FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('mlops.validations', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.deployment_events', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.validations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.deployment_events_event_id_seq', '');

-- Alert actions (docs/deployments.md#the-closed-loop): when a rule fires,
-- the scheduler runs a job (as the job's owner, like any run), at most once
-- per the rule's cooldown.  One action per rule; its owner is the role that
-- set it, which must own both the rule and the job.
CREATE TABLE mlops.alert_actions (
    rule_id     text PRIMARY KEY REFERENCES mlops.alert_rules (rule_id) ON DELETE CASCADE,
    job_id      bigint NOT NULL REFERENCES mlops.jobs (job_id) ON DELETE CASCADE,
    last_run_at timestamptz,
    created_by  name NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner       regrole NOT NULL
);
REVOKE ALL ON mlops.alert_actions FROM PUBLIC;

-- set_alert_action makes the rule run the job when it fires; job_name NULL
-- removes the rule's action.
CREATE FUNCTION mlops._impl_set_alert_action(rule_id text, job_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r mlops.alert_rules := mlops._alert_rule_for_update(rule_id);
    j mlops.jobs;
BEGIN
    IF job_name IS NULL THEN
        DELETE FROM mlops.alert_actions a WHERE a.rule_id OPERATOR(pg_catalog.=) r.rule_id;
        PERFORM mlops._audit_event('alert_action.drop', 'alert_rule', r.rule_id, '{}');
        RETURN;
    END IF;
    -- the job runs as its owner: only that owner (or a member) may attach it
    j := mlops._own_job(job_name);
    INSERT INTO mlops.alert_actions AS a (rule_id, job_id, created_by, owner)
    VALUES (r.rule_id, j.job_id, mlops.current_actor(), mlops.current_actor()::regrole)
    ON CONFLICT ON CONSTRAINT alert_actions_pkey DO UPDATE
       SET job_id = EXCLUDED.job_id, last_run_at = NULL, created_by = EXCLUDED.created_by,
           created_at = pg_catalog.now(), owner = EXCLUDED.owner;
    PERFORM mlops._audit_event('alert_action.set', 'alert_rule', r.rule_id,
        pg_catalog.jsonb_build_object('job_id', j.job_id, 'job_name', j.job_name, 'job_owner', j.owner_name));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_alert_action(text, text) FROM PUBLIC;
CREATE FUNCTION mlops.set_alert_action(rule_id text, job_name text)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_alert_action(text, text) FROM PUBLIC;

-- _alert_action_run: a stored alert asks the scheduler to run its rule's
-- job (mlops.jobs.run_requested, as mlops.run_job does) unless it ran within
-- the rule's cooldown.
CREATE FUNCTION mlops._alert_action_run() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a mlops.alert_actions;
    j mlops.jobs;
BEGIN
    SELECT x.* INTO a FROM mlops.alert_actions x
      JOIN mlops.alert_rules r ON r.rule_id OPERATOR(pg_catalog.=) x.rule_id
     WHERE x.rule_id OPERATOR(pg_catalog.=) NEW.rule_id
       AND (x.last_run_at IS NULL
            OR x.last_run_at OPERATOR(pg_catalog.+) r.cooldown OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp())
       FOR UPDATE OF x;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE mlops.jobs x SET run_requested = true
     WHERE x.job_id OPERATOR(pg_catalog.=) a.job_id AND x.paused_reason IS NULL
    RETURNING * INTO j;
    UPDATE mlops.alert_actions x SET last_run_at = pg_catalog.clock_timestamp()
     WHERE x.rule_id OPERATOR(pg_catalog.=) a.rule_id;
    PERFORM mlops._audit_event('alert_action.run', 'job', a.job_id::text,
        pg_catalog.jsonb_build_object('rule_id', NEW.rule_id, 'alert_id', NEW.alert_id,
                                      'job_name', j.job_name, 'requested', j.job_id IS NOT NULL));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION mlops._alert_action_run() FROM PUBLIC;
CREATE TRIGGER alerts_run_action AFTER INSERT ON mlops.alerts
    FOR EACH ROW EXECUTE FUNCTION mlops._alert_action_run();
SELECT pg_catalog.pg_extension_config_dump('mlops.alert_actions', '');

-- drop_model_version refuses a version a pending or active deployment uses
CREATE OR REPLACE FUNCTION mlops._impl_drop_model_version(name text, version integer)
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

-- schedule_pipeline knows deployment_pipeline: its final definition (and the
-- jobs.pipeline check) is in the feature store section, which adds one more

-- predict, predict_proba and predict_label gain routing_key (and return NULL for
-- NULL input instead of being STRICT): the new signatures are created beside
-- the two-argument ones, which then pass their EXECUTE grants on and go.

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

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT p.oid::regprocedure AS old_fn, p.proname, pg_catalog.format_type(p.proargtypes[1], NULL) AS argtype,
               r.rolname
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'mlops'::regnamespace
           AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['predict', 'predict_proba', 'predict_label'])
           AND p.pronargs OPERATOR(pg_catalog.=) 2 AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND r.oid OPERATOR(pg_catalog.=) a.grantee
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION mlops.%I(text, %s, text) TO %I',
                                  g.proname, g.argtype, g.rolname);
    END LOOP;
END
$$;
DROP FUNCTION mlops.predict(text, float8[]);
DROP FUNCTION mlops.predict(text, jsonb);
DROP FUNCTION mlops.predict(text, text);
DROP FUNCTION mlops.predict_proba(text, float8[]);
DROP FUNCTION mlops.predict_proba(text, jsonb);
DROP FUNCTION mlops.predict_proba(text, text);
DROP FUNCTION mlops.predict_label(text, float8[]);
DROP FUNCTION mlops.predict_label(text, jsonb);
DROP FUNCTION mlops.predict_label(text, text);

-- A/B tests (sql/install/52_ab_tests.sql)
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
SELECT pg_catalog.pg_extension_config_dump('mlops.ab_tests', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.ab_tests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.ab_assignments', '');

-- ==== feature store ====

-- (generated from sql/install/65_features.sql, the feature store's lines of
-- 30_registry.sql and its edits of other pieces; keep them identical)
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

SELECT pg_catalog.pg_extension_config_dump('mlops.feature_sets', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.feature_sets_feature_set_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.feature_set_versions', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.training_sets', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.training_sets_training_set_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.model_lineage', '');

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


-- materialization_pipeline is a pipeline the scheduler knows
ALTER TABLE mlops.jobs DROP CONSTRAINT jobs_pipeline_check;
ALTER TABLE mlops.jobs ADD CONSTRAINT jobs_pipeline_check CHECK (pipeline OPERATOR(pg_catalog.=) ANY (ARRAY['training_pipeline', 'data_pipeline', 'monitoring_pipeline', 'deployment_pipeline', 'materialization_pipeline']));

-- schedule_pipeline: the command calls the pipeline with the parameters as named arguments.
-- Each pipeline's parameters are the arguments of its function; those
-- without a default (required) must be given.
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
    ELSIF pipeline OPERATOR(pg_catalog.=) 'deployment_pipeline' THEN
        allowed := ARRAY['model_name', 'model_version', 'environment', 'strategy', 'canary_percentage',
                         'validation', 'auto_rollback', 'steps'];
        required := ARRAY['model_name', 'model_version'];
    ELSIF pipeline OPERATOR(pg_catalog.=) 'materialization_pipeline' THEN
        allowed := ARRAY['feature_set', 'incremental'];
        required := ARRAY['feature_set'];
    ELSE
        RAISE EXCEPTION 'unknown pipeline %', COALESCE(pg_catalog.quote_literal(pg_catalog.left(pipeline, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The pipelines are training_pipeline, data_pipeline, monitoring_pipeline, deployment_pipeline and materialization_pipeline.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(parameters) e ORDER BY e.key LOOP
        IF NOT k OPERATOR(pg_catalog.=) ANY (allowed) THEN
            RAISE EXCEPTION '% has no parameter "%"', pipeline, pg_catalog.left(k, 200)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = pg_catalog.format('Its parameters are %s.', pg_catalog.array_to_string(allowed, ', '));
        END IF;
        IF k OPERATOR(pg_catalog.=) ANY (ARRAY['hyperparams', 'min_metrics', 'rules', 'validation', 'auto_rollback', 'steps']) THEN
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::jsonb', k, v::text);
        ELSIF k OPERATOR(pg_catalog.=) ANY (ARRAY['model_version', 'canary_percentage']) THEN
            -- model_version null: the latest version when the job runs
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) ALL (ARRAY['number', 'null']) THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON number or null', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            args := args OPERATOR(pg_catalog.||) pg_catalog.format('%I => %L::%s', k, v OPERATOR(pg_catalog.->>) 0,
                CASE k WHEN 'model_version' THEN 'integer' ELSE 'float8' END);
        ELSIF k OPERATOR(pg_catalog.=) ANY (ARRAY['validate', 'incremental']) THEN
            IF pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.<>) 'boolean' THEN
                RAISE EXCEPTION 'parameter "%" must be a JSON boolean', k
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

-- prometheus_metrics reports the feature sets' freshness
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
    out := out OPERATOR(pg_catalog.||) mlops._prom_feature_sets();  -- feature store freshness (65_features.sql)
    RETURN out;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_prometheus_metrics() FROM PUBLIC;

-- ==== http service ====
-- The HTTP inference service (src/http/, docs/http.md): rate-limit tiers,
-- API keys, and input constraints (also enforced by predict(jsonb) and
-- friends, src/serve/input_constraints.c).

-- Rate-limit tiers: a token bucket of `burst` requests refilled at
-- requests_per_minute (the reference document's three tiers are seeded).
CREATE TABLE mlops.rate_limit_tiers (
    tier                text PRIMARY KEY
                        CHECK (tier OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
    requests_per_minute integer NOT NULL
                        CHECK (requests_per_minute OPERATOR(pg_catalog.>=) 1
                               AND requests_per_minute OPERATOR(pg_catalog.<=) 10000000),
    burst               integer NOT NULL
                        CHECK (burst OPERATOR(pg_catalog.>=) 1 AND burst OPERATOR(pg_catalog.<=) 1000000)
);
REVOKE ALL ON mlops.rate_limit_tiers FROM PUBLIC;
INSERT INTO mlops.rate_limit_tiers (tier, requests_per_minute, burst)
VALUES ('free', 60, 10), ('pro', 600, 50), ('enterprise', 6000, 200);

-- The three built-in tiers are fixed: pg_dump leaves them out (CREATE
-- EXTENSION makes them again on restore), so a change to one could not
-- survive a dump; other tiers are the extension owner's to add, change and
-- drop, and are dumped.
CREATE FUNCTION mlops._rate_limit_tier_builtin() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF OLD.tier OPERATOR(pg_catalog.=) ANY (ARRAY['free', 'pro', 'enterprise']) THEN
        RAISE EXCEPTION 'rate-limit tier "%" is built in', OLD.tier
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add a tier of your own with other limits and create keys with it.';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION mlops._rate_limit_tier_builtin() FROM PUBLIC;
CREATE TRIGGER rate_limit_tier_builtin BEFORE UPDATE OR DELETE ON mlops.rate_limit_tiers
    FOR EACH ROW EXECUTE FUNCTION mlops._rate_limit_tier_builtin();

-- API keys: only the SHA-256 of a key is stored; the key itself is shown
-- once, by create_api_key.  Requests with the key run as `role`.
CREATE TABLE mlops.http_api_keys (
    key_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash    bytea NOT NULL UNIQUE,
    key_prefix  text NOT NULL,
    role        regrole NOT NULL,
    tier        text NOT NULL REFERENCES mlops.rate_limit_tiers (tier),
    description text,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL,
    revoked_at  timestamptz,
    revoked_by  name,
    owner       regrole NOT NULL
);
REVOKE ALL ON mlops.http_api_keys FROM PUBLIC;

-- api_keys lists the keys of the roles the reader belongs to, without secrets.
CREATE VIEW mlops.api_keys WITH (security_barrier) AS
    SELECT k.key_id, k.key_prefix, k.role, k.tier, k.description, k.expires_at,
           k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at OPERATOR(pg_catalog.>) pg_catalog.now())
               AS active,
           k.created_at, k.created_by, k.revoked_at, k.revoked_by, k.owner
      FROM mlops.http_api_keys k
     WHERE pg_catalog.pg_has_role(k.owner, 'MEMBER') OR pg_catalog.pg_has_role(k.role, 'MEMBER');
REVOKE ALL ON mlops.api_keys FROM PUBLIC;

-- create_api_key makes a key for a role the actor belongs to; it returns
-- the key, which is never shown again.
CREATE FUNCTION mlops._impl_create_api_key(role name, tier text, expires_at timestamptz, description text)
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    r record;
    k text;
    id bigint;
BEGIN
    IF role IS NULL OR tier IS NULL THEN
        RAISE EXCEPTION 'role and tier must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.oid, a.rolcanlogin, a.rolsuper INTO r FROM pg_catalog.pg_roles a WHERE a.rolname OPERATOR(pg_catalog.=) role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', pg_catalog.left(role, 100) USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT mlops._may_change(r.oid::regrole) THEN
        RAISE EXCEPTION 'must be a member of role "%" to create an API key for it', role
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A key lets its holder act as the role, so only members of the role may create one.';
    END IF;
    IF r.rolsuper OR NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot have API keys', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The HTTP service runs requests only as roles with LOGIN that are not superusers.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mlops.rate_limit_tiers t WHERE t.tier OPERATOR(pg_catalog.=) $2) THEN
        RAISE EXCEPTION 'unknown rate-limit tier %', pg_catalog.quote_literal(pg_catalog.left(tier, 200))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Tiers are: %s.',
                      (SELECT pg_catalog.string_agg(t.tier, ', ' ORDER BY t.requests_per_minute) FROM mlops.rate_limit_tiers t));
    END IF;
    IF expires_at IS NOT NULL AND NOT (expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
                                       AND expires_at OPERATOR(pg_catalog.<) 'infinity') THEN
        RAISE EXCEPTION 'expires_at must be a finite time in the future'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('Got %s.', expires_at);
    END IF;
    IF pg_catalog.length(description) OPERATOR(pg_catalog.>) 1000 THEN
        RAISE EXCEPTION 'description must be at most 1000 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    k := 'mlk_' OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '')
                OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '');
    INSERT INTO mlops.http_api_keys (key_hash, key_prefix, role, tier, description, expires_at, created_by, owner)
    VALUES (pg_catalog.sha256(pg_catalog.convert_to(k, 'UTF8')), pg_catalog.left(k, 12), r.oid::regrole, tier,
            description, expires_at, mlops.current_actor(), mlops.current_actor()::regrole)
    RETURNING key_id INTO id;
    PERFORM mlops._audit_event('api_key.create', 'api_key', id::text,
        pg_catalog.jsonb_build_object('role', role, 'tier', tier, 'expires_at', expires_at,
                                      'key_prefix', pg_catalog.left(k, 12)));
    RETURN k;
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_create_api_key(name, text, timestamptz, text) FROM PUBLIC;
CREATE FUNCTION mlops.create_api_key(role name, tier text DEFAULT 'free', expires_at timestamptz DEFAULT NULL,
                                     description text DEFAULT NULL)
    RETURNS text LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.create_api_key(name, text, timestamptz, text) FROM PUBLIC;

-- revoke_api_key revokes a key at once (the next request with it gets 401).
CREATE FUNCTION mlops._impl_revoke_api_key(key_id bigint)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    k mlops.http_api_keys;
BEGIN
    SELECT * INTO k FROM mlops.http_api_keys a WHERE a.key_id OPERATOR(pg_catalog.=) key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'API key % does not exist', COALESCE(key_id::text, 'NULL') USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM mlops._require_owner('api_key', key_id::text, k.owner);
    IF k.revoked_at IS NOT NULL THEN
        RETURN;
    END IF;
    UPDATE mlops.http_api_keys a SET revoked_at = pg_catalog.now(), revoked_by = mlops.current_actor()
     WHERE a.key_id OPERATOR(pg_catalog.=) key_id;
    PERFORM mlops._audit_event('api_key.revoke', 'api_key', key_id::text,
        pg_catalog.jsonb_build_object('role', k.role::text, 'key_prefix', k.key_prefix));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_revoke_api_key(bigint) FROM PUBLIC;
CREATE FUNCTION mlops.revoke_api_key(key_id bigint)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.revoke_api_key(bigint) FROM PUBLIC;

-- Input constraints (the reference document's FieldSchema) per model name:
-- {"feature": {"type", "min", "max", "pattern", "allowed", "required"}}.
CREATE TABLE mlops.input_constraints (
    model       text PRIMARY KEY
                CHECK (model OPERATOR(pg_catalog.~) '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    constraints jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(constraints) OPERATOR(pg_catalog.=) 'object'),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by  name NOT NULL,
    owner       regrole NOT NULL
);
REVOKE ALL ON mlops.input_constraints FROM PUBLIC;
-- a change reaches every backend's cache of constraints (src/serve/input_constraints.c)
CREATE TRIGGER input_constraints_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlops.input_constraints
    FOR EACH STATEMENT EXECUTE FUNCTION mlops._registry_changed();

-- _input_constraint_problems lists what is wrong with a constraints document.
CREATE FUNCTION mlops._input_constraint_problems(constraints jsonb)
    RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    f record;
    a record;
    p text[] := '{}';
BEGIN
    IF pg_catalog.jsonb_typeof(constraints) OPERATOR(pg_catalog.<>) 'object' THEN
        RETURN ARRAY['constraints must be a JSON object of features'];
    END IF;
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(constraints)) OPERATOR(pg_catalog.>) 1000 THEN
        RETURN ARRAY['at most 1000 features may have constraints'];
    END IF;
    FOR f IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(constraints) e ORDER BY e.key LOOP
        IF pg_catalog.jsonb_typeof(f.value) OPERATOR(pg_catalog.<>) 'object' THEN
            p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: must be an object', pg_catalog.left(f.key, 200));
            CONTINUE;
        END IF;
        FOR a IN SELECT e.key, e.value, pg_catalog.jsonb_typeof(e.value) AS t FROM pg_catalog.jsonb_each(f.value) e ORDER BY e.key LOOP
            IF a.key OPERATOR(pg_catalog.=) 'type' AND (a.t OPERATOR(pg_catalog.<>) 'string' OR a.value OPERATOR(pg_catalog.#>>) '{}'
                    OPERATOR(pg_catalog.<>) ALL (ARRAY['number', 'integer', 'string', 'boolean'])) THEN
                p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: type must be "number", "integer", "string" or "boolean"', pg_catalog.left(f.key, 200));
            ELSIF a.key OPERATOR(pg_catalog.=) ANY (ARRAY['min', 'max']) AND a.t OPERATOR(pg_catalog.<>) 'number' THEN
                p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: %s must be a number', pg_catalog.left(f.key, 200), a.key);
            ELSIF a.key OPERATOR(pg_catalog.=) 'required' AND a.t OPERATOR(pg_catalog.<>) 'boolean' THEN
                p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: required must be true or false', pg_catalog.left(f.key, 200));
            ELSIF a.key OPERATOR(pg_catalog.=) 'allowed' AND (a.t OPERATOR(pg_catalog.<>) 'array'
                    OR pg_catalog.jsonb_array_length(a.value) OPERATOR(pg_catalog.>) 1000) THEN
                p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: allowed must be an array of at most 1000 values', pg_catalog.left(f.key, 200));
            ELSIF a.key OPERATOR(pg_catalog.=) 'pattern' THEN
                IF a.t OPERATOR(pg_catalog.<>) 'string' OR pg_catalog.length(a.value OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.>) 1000 THEN
                    p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: pattern must be a string of at most 1000 characters', pg_catalog.left(f.key, 200));
                ELSE
                    BEGIN
                        PERFORM '' OPERATOR(pg_catalog.~) (a.value OPERATOR(pg_catalog.#>>) '{}');
                    EXCEPTION WHEN invalid_regular_expression THEN
                        p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: pattern is not a valid regular expression', pg_catalog.left(f.key, 200));
                    END;
                END IF;
            ELSIF a.key OPERATOR(pg_catalog.<>) ALL (ARRAY['type', 'min', 'max', 'pattern', 'allowed', 'required']) THEN
                p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: unknown constraint %s', pg_catalog.left(f.key, 200), pg_catalog.left(a.key, 200));
            END IF;
        END LOOP;
        IF (f.value OPERATOR(pg_catalog.->) 'min') IS NOT NULL AND (f.value OPERATOR(pg_catalog.->) 'max') IS NOT NULL
           AND pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.->) 'min') OPERATOR(pg_catalog.=) 'number'
           AND pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.->) 'max') OPERATOR(pg_catalog.=) 'number'
           AND (f.value OPERATOR(pg_catalog.->>) 'min')::numeric OPERATOR(pg_catalog.>) (f.value OPERATOR(pg_catalog.->>) 'max')::numeric THEN
            p := p OPERATOR(pg_catalog.||) pg_catalog.format('%s: min is greater than max', pg_catalog.left(f.key, 200));
        END IF;
    END LOOP;
    RETURN p;
END
$$;
REVOKE ALL ON FUNCTION mlops._input_constraint_problems(jsonb) FROM PUBLIC;

-- set_input_constraints sets (or, with NULL, removes) the constraints of a
-- registered model's inputs; it requires being allowed to change the model.
CREATE FUNCTION mlops._impl_set_input_constraints(model text, constraints jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    m mlops.models;
    c mlops.input_constraints;
    problems text[];
BEGIN
    SELECT * INTO m FROM mlops.models WHERE models.name OPERATOR(pg_catalog.=) model FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % does not exist', COALESCE(pg_catalog.quote_literal(pg_catalog.left(model, 200)), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Constraints belong to a registered model name (not a version or stage).';
    END IF;
    SELECT * INTO c FROM mlops.input_constraints i WHERE i.model OPERATOR(pg_catalog.=) model FOR UPDATE;
    PERFORM mlops._require_owner(CASE WHEN FOUND THEN 'input_constraints' ELSE 'model' END, model,
                                 COALESCE(c.owner, m.owner));
    IF constraints IS NULL THEN
        DELETE FROM mlops.input_constraints i WHERE i.model OPERATOR(pg_catalog.=) model;
        PERFORM mlops._audit_event('input_constraints.drop', 'model', model, '{}');
        RETURN;
    END IF;
    problems := mlops._input_constraint_problems(constraints);
    IF pg_catalog.cardinality(problems) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'invalid input constraints for model %', pg_catalog.quote_literal(model)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = mlops._bounded_list(problems) OPERATOR(pg_catalog.||) '.',
                  HINT = 'Each feature takes "type" (number, integer, string, boolean), "min", "max", "pattern", "allowed" and "required".';
    END IF;
    INSERT INTO mlops.input_constraints (model, constraints, updated_by, owner)
    VALUES (model, constraints, mlops.current_actor(), COALESCE(c.owner, mlops.current_actor()::regrole))
    ON CONFLICT ON CONSTRAINT input_constraints_pkey DO UPDATE
       SET constraints = EXCLUDED.constraints, updated_at = pg_catalog.now(), updated_by = EXCLUDED.updated_by;
    PERFORM mlops._audit_event('input_constraints.set', 'model', model,
                               pg_catalog.jsonb_build_object('features', (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(constraints))));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_set_input_constraints(text, jsonb) FROM PUBLIC;
CREATE FUNCTION mlops.set_input_constraints(model text, constraints jsonb)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.set_input_constraints(text, jsonb) FROM PUBLIC;

-- _input_violations lists every violation of a model's constraints by one
-- features object, as [{"field", "message"}], in feature order.
CREATE FUNCTION mlops._input_violations(constraints jsonb, features jsonb)
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('field', v.field, 'message', v.message)
                                         ORDER BY v.field, v.n), '[]')
      FROM (
        SELECT c.key AS field, x.n, x.message
          FROM pg_catalog.jsonb_each(constraints) c,
               LATERAL (SELECT features OPERATOR(pg_catalog.->) c.key AS val,
                               pg_catalog.jsonb_typeof(features OPERATOR(pg_catalog.->) c.key) AS t,
                               c.value OPERATOR(pg_catalog.->>) 'type' AS want) f,
               LATERAL (VALUES
                 (1, CASE WHEN (f.t IS NULL OR f.t OPERATOR(pg_catalog.=) 'null')
                           AND (c.value OPERATOR(pg_catalog.->) 'required') OPERATOR(pg_catalog.=) 'true' THEN 'is required' END),
                 (2, CASE WHEN f.t OPERATOR(pg_catalog.<>) 'null' AND f.want IS NOT NULL AND NOT (
                           (f.want OPERATOR(pg_catalog.=) 'number' AND f.t OPERATOR(pg_catalog.=) 'number') OR
                           (f.want OPERATOR(pg_catalog.=) 'integer' AND f.t OPERATOR(pg_catalog.=) 'number'
                            AND pg_catalog.scale((f.val OPERATOR(pg_catalog.#>>) '{}')::numeric) OPERATOR(pg_catalog.=) 0) OR
                           (f.want OPERATOR(pg_catalog.=) 'string' AND f.t OPERATOR(pg_catalog.=) 'string') OR
                           (f.want OPERATOR(pg_catalog.=) 'boolean' AND f.t OPERATOR(pg_catalog.=) 'boolean'))
                      THEN pg_catalog.format('must be %s %s', CASE WHEN f.want OPERATOR(pg_catalog.=) 'integer' THEN 'an' ELSE 'a' END, f.want) END),
                 (3, CASE WHEN f.t OPERATOR(pg_catalog.=) 'number'
                           AND pg_catalog.jsonb_typeof(c.value OPERATOR(pg_catalog.->) 'min') OPERATOR(pg_catalog.=) 'number'
                           AND (f.val OPERATOR(pg_catalog.#>>) '{}')::numeric OPERATOR(pg_catalog.<) (c.value OPERATOR(pg_catalog.->>) 'min')::numeric
                      THEN pg_catalog.format('must be at least %s', c.value OPERATOR(pg_catalog.->>) 'min') END),
                 (4, CASE WHEN f.t OPERATOR(pg_catalog.=) 'number'
                           AND pg_catalog.jsonb_typeof(c.value OPERATOR(pg_catalog.->) 'max') OPERATOR(pg_catalog.=) 'number'
                           AND (f.val OPERATOR(pg_catalog.#>>) '{}')::numeric OPERATOR(pg_catalog.>) (c.value OPERATOR(pg_catalog.->>) 'max')::numeric
                      THEN pg_catalog.format('must be at most %s', c.value OPERATOR(pg_catalog.->>) 'max') END),
                 (5, CASE WHEN f.t OPERATOR(pg_catalog.=) 'string'
                           AND pg_catalog.jsonb_typeof(c.value OPERATOR(pg_catalog.->) 'pattern') OPERATOR(pg_catalog.=) 'string'
                           AND (f.val OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.!~) (c.value OPERATOR(pg_catalog.->>) 'pattern')
                      THEN pg_catalog.format('does not match the pattern %s', pg_catalog.left(c.value OPERATOR(pg_catalog.->>) 'pattern', 200)) END),
                 (6, CASE WHEN f.t IS NOT NULL AND f.t OPERATOR(pg_catalog.<>) 'null'
                           AND pg_catalog.jsonb_typeof(c.value OPERATOR(pg_catalog.->) 'allowed') OPERATOR(pg_catalog.=) 'array'
                           AND NOT (c.value OPERATOR(pg_catalog.->) 'allowed') OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array(f.val)
                      THEN 'is not one of the allowed values' END)
               ) x (n, message)
         WHERE x.message IS NOT NULL
           AND pg_catalog.jsonb_typeof(c.value) OPERATOR(pg_catalog.=) 'object') v
$$;
REVOKE ALL ON FUNCTION mlops._input_violations(jsonb, jsonb) FROM PUBLIC;

-- validate_input checks features against a model's input constraints and
-- returns {"valid": bool, "details": [{"field", "message"}, ...]} listing
-- every violation; a model without constraints accepts any object.
CREATE FUNCTION mlops.validate_input(model text, features jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c jsonb;
    d jsonb;
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF features IS NULL OR pg_catalog.jsonb_typeof(features) OPERATOR(pg_catalog.<>) 'object' THEN
        RETURN pg_catalog.jsonb_build_object('valid', false, 'details',
            pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('field', NULL, 'message', 'features must be a JSON object')));
    END IF;
    SELECT i.constraints INTO c FROM mlops.input_constraints i
     WHERE i.model OPERATOR(pg_catalog.=) pg_catalog.split_part(pg_catalog.split_part($1, '/', 1), '@', 1);
    IF c IS NULL THEN
        RETURN '{"valid": true, "details": []}';
    END IF;
    d := COALESCE(mlops._input_violations(c, features), '[]');
    RETURN pg_catalog.jsonb_build_object('valid', pg_catalog.jsonb_array_length(d) OPERATOR(pg_catalog.=) 0, 'details', d);
END
$$;
REVOKE ALL ON FUNCTION mlops.validate_input(text, jsonb) FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('mlops.rate_limit_tiers',
    $$WHERE tier OPERATOR(pg_catalog.<>) ALL ('{free,pro,enterprise}')$$);
SELECT pg_catalog.pg_extension_config_dump('mlops.http_api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.http_api_keys_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.input_constraints', '');

-- ==== reports and artifacts ====
-- Reports and artifacts (issue 14): HTML reports built in C from the same
-- numbers the SQL functions return (src/report/), and run artifacts.
-- docs/reports.md describes every object here.
--
-- The reports are SECURITY INVOKER C functions: they read through SPI as
-- the caller (detect_drift, model_info, the view mlops.dashboard ...), so a
-- report shows what its caller may see.  Artifacts belong to their run:
-- logging one requires membership in the run's owner role
-- (mlops._run_for_update, the run's rule), reading them is governed by the
-- grants on mlops.artifacts() and mlops.get_artifact().

CREATE FUNCTION mlops.drift_report(name text, source text, methods text[] DEFAULT NULL,
                                   columns text[] DEFAULT NULL, format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_drift_report';
REVOKE ALL ON FUNCTION mlops.drift_report(text, text, text[], text[], text) FROM PUBLIC;

-- _dashboard_activity: per model (registered or monitored), its versions'
-- stages and the predictions recorded per minute over the last hour, oldest
-- minute first (60 values); the dashboard joins it to mlops.dashboard.
CREATE FUNCTION mlops._dashboard_activity()
    RETURNS TABLE (model text, stages text, per_minute float8[])
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH names AS (
        SELECT mo.name AS model FROM mlops.models mo
        UNION
        SELECT m.model FROM mlops.monitors m
    ), recent AS (
        SELECT m.model,
               pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) p.recorded_at)
                                OPERATOR(pg_catalog./) 60)::integer AS ago,
               pg_catalog.count(*) AS n
          FROM mlops.monitor_predictions p JOIN mlops.monitors m ON m.monitor_id OPERATOR(pg_catalog.=) p.monitor_id
         WHERE p.recorded_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::interval)
           AND p.recorded_at OPERATOR(pg_catalog.<=) pg_catalog.now()
         GROUP BY 1, 2
    )
    SELECT n.model,
           (SELECT pg_catalog.string_agg(pg_catalog.format('v%s %s', v.version, v.stage), ', ' ORDER BY v.version DESC)
              FROM mlops.models mo JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) mo.model_id
             WHERE mo.name OPERATOR(pg_catalog.=) n.model
               AND (v.stage OPERATOR(pg_catalog.<>) 'Archived'
                    OR v.version OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(w.version) FROM mlops.model_versions w
                                                          WHERE w.model_id OPERATOR(pg_catalog.=) mo.model_id))),
           (SELECT pg_catalog.array_agg(COALESCE(r.n, 0)::float8 ORDER BY g.i DESC)
              FROM pg_catalog.generate_series(0, 59) g (i)
              LEFT JOIN recent r ON r.model OPERATOR(pg_catalog.=) n.model AND r.ago OPERATOR(pg_catalog.=) g.i)
      FROM names n
$$;
REVOKE ALL ON FUNCTION mlops._dashboard_activity() FROM PUBLIC;

CREATE FUNCTION mlops.dashboard_html(format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_dashboard_html';
REVOKE ALL ON FUNCTION mlops.dashboard_html(text) FROM PUBLIC;

CREATE FUNCTION mlops.model_report(model text, source text DEFAULT NULL, target text DEFAULT NULL,
                                   format text DEFAULT 'html')
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_model_report';
REVOKE ALL ON FUNCTION mlops.model_report(text, text, text, text) FROM PUBLIC;

-- Artifacts of runs (MLflow's log_artifact): they belong to their run.
CREATE TABLE mlops.run_artifacts (
    run_id       bigint NOT NULL REFERENCES mlops.runs (run_id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) '' AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 256),
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       bytea NOT NULL,
    content      bytea NOT NULL,
    logged_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    logged_by    name NOT NULL,
    PRIMARY KEY (run_id, name)
);
REVOKE ALL ON mlops.run_artifacts FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('mlops.run_artifacts', '');

-- log_artifact stores one artifact of a run; only members of the run's
-- owner may (the run's rule), at most mlops.artifact_max_mb megabytes.
CREATE FUNCTION mlops._impl_log_artifact(run_id bigint, name text, content bytea, content_type text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    max_mb integer := COALESCE(pg_catalog.current_setting('mlops.artifact_max_mb', true), '16')::integer;
BEGIN
    IF name IS NULL OR content IS NULL THEN
        RAISE EXCEPTION 'name and content must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF name OPERATOR(pg_catalog.=) '' OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'artifact name must have 1 to 256 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('This one has %s.', pg_catalog.length(name));
    END IF;
    IF pg_catalog.length(COALESCE(content_type, '')) OPERATOR(pg_catalog.>) 256 THEN
        RAISE EXCEPTION 'content_type must have at most 256 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.octet_length(content)::bigint OPERATOR(pg_catalog.>) (max_mb::bigint OPERATOR(pg_catalog.*) 1048576) THEN
        RAISE EXCEPTION 'artifact is larger than mlops.artifact_max_mb'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = pg_catalog.format('It has %s bytes; the limit is %s MB.', pg_catalog.octet_length(content), max_mb),
                  HINT = 'A superuser may raise mlops.artifact_max_mb (1 to 1024).';
    END IF;
    PERFORM mlops._run_for_update(run_id, false);
    INSERT INTO mlops.run_artifacts (run_id, name, content_type, size, sha256, content, logged_by)
    VALUES (run_id, name, COALESCE(content_type, 'application/octet-stream'), pg_catalog.octet_length(content),
            pg_catalog.sha256(content), content, mlops.current_actor())
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % already has an artifact "%"', run_id, mlops._clip(name)
            USING ERRCODE = 'unique_violation',
                  HINT = 'Artifacts are kept as logged; log this one under another name.';
    END IF;
    PERFORM mlops._audit_event('run.artifact', 'run', run_id::pg_catalog.text,
        pg_catalog.jsonb_build_object('name', name, 'size', pg_catalog.octet_length(content),
                                      'sha256', pg_catalog.encode(pg_catalog.sha256(content), 'hex')));
END
$$;
REVOKE ALL ON FUNCTION mlops._impl_log_artifact(bigint, text, bytea, text) FROM PUBLIC;
CREATE FUNCTION mlops.log_artifact(run_id bigint, name text, content bytea, content_type text DEFAULT NULL)
    RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'mlops_owner_trampoline';
REVOKE ALL ON FUNCTION mlops.log_artifact(bigint, text, bytea, text) FROM PUBLIC;

-- artifacts lists a run's artifacts without their content.
CREATE FUNCTION mlops.artifacts(run_id bigint)
    RETURNS TABLE (name text, content_type text, size bigint, sha256 text, logged_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT a.name, a.content_type, a.size, pg_catalog.encode(a.sha256, 'hex'), a.logged_at
      FROM mlops.run_artifacts a WHERE a.run_id OPERATOR(pg_catalog.=) $1 ORDER BY a.name
$$;
REVOKE ALL ON FUNCTION mlops.artifacts(bigint) FROM PUBLIC;

-- get_artifact returns one artifact's content, or raises when there is none.
CREATE FUNCTION mlops.get_artifact(run_id bigint, name text)
    RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c bytea;
BEGIN
    SELECT a.content INTO c FROM mlops.run_artifacts a
     WHERE a.run_id OPERATOR(pg_catalog.=) $1 AND a.name OPERATOR(pg_catalog.=) $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % has no artifact "%"', COALESCE($1::pg_catalog.text, 'NULL'), mlops._clip($2)
            USING ERRCODE = 'undefined_object',
                  HINT = 'List them with SELECT * FROM mlops.artifacts(run_id).';
    END IF;
    RETURN c;
END
$$;
REVOKE ALL ON FUNCTION mlops.get_artifact(bigint, text) FROM PUBLIC;

-- _log_model_report logs the model report of the version a training run
-- registered as the artifact model_report.html of that run; mlops.train
-- calls it (src/train/train_tracking.c) before it ends the run.  A report
-- that cannot be made or stored is a WARNING, never a failed training.
CREATE FUNCTION mlops._log_model_report(p_run_id bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ref text;
    msg text;
BEGIN
    SELECT m.name OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) v.version INTO ref
      FROM mlops.model_versions v JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) v.model_id
     WHERE v.run_id OPERATOR(pg_catalog.=) p_run_id
     ORDER BY v.version DESC LIMIT 1;
    IF ref IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        PERFORM mlops._impl_log_artifact(p_run_id, 'model_report.html',
                                         pg_catalog.convert_to(mlops.model_report(ref), 'UTF8'),
                                         'text/html; charset=utf-8');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        RAISE WARNING 'the model report of run % was not logged: %', p_run_id, msg;
    END;
END
$$;
REVOKE ALL ON FUNCTION mlops._log_model_report(bigint) FROM PUBLIC;

-- ==== performance and replicas ====
-- Drift statistics straight from tables (src/drift/tables.c): the table
-- forms of psi, kl_divergence, js_distance, wasserstein, ks_test and
-- chi_square_test read one column of two sources (a table, view or
-- read-only query, resolved by src/common/source.c as the caller) into C
-- arrays and run the same statistic code as the array forms (60_drift.sql),
-- with the same arguments, defaults and ranges.  They run user SQL, so they
-- are STABLE and PARALLEL RESTRICTED.  An untyped literal in the third
-- position resolves to these forms (PostgreSQL prefers the string category
-- for unknown literals); the array forms are chosen by array arguments.
CREATE FUNCTION mlops.psi(reference text, current text, column_name text, bins integer DEFAULT 10,
                          binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_psi_table';
REVOKE ALL ON FUNCTION mlops.psi(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.kl_divergence(reference text, current text, column_name text,
                                    bins integer DEFAULT 10, binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_kl_divergence_table';
REVOKE ALL ON FUNCTION mlops.kl_divergence(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.js_distance(reference text, current text, column_name text,
                                  bins integer DEFAULT 10, binning text DEFAULT 'quantile')
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_js_distance_table';
REVOKE ALL ON FUNCTION mlops.js_distance(text, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION mlops.wasserstein(reference text, current text, column_name text)
    RETURNS float8
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_wasserstein_table';
REVOKE ALL ON FUNCTION mlops.wasserstein(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.ks_test(reference text, current text, column_name text)
    RETURNS TABLE (statistic float8, p_value float8)
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_ks_test_table';
REVOKE ALL ON FUNCTION mlops.ks_test(text, text, text) FROM PUBLIC;

CREATE FUNCTION mlops.chi_square_test(reference text, current text, column_name text)
    RETURNS TABLE (statistic float8, p_value float8, dof integer)
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_chi_square_test_table';
REVOKE ALL ON FUNCTION mlops.chi_square_test(text, text, text) FROM PUBLIC;

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
               'lineage', mlops._model_lineage(v.model_id, v.version),
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
            ('ab_test', 'mlops.ab_tests', 'name'),
            ('feature_set', 'mlops.feature_sets', 'name'),
            ('training_set', 'mlops.training_sets', 'training_set_id'),
            -- jobs: job names are unique per owner only, so a job is named by its job_id
            ('job', 'mlops.jobs', 'job_id'),
            ('deployment', 'mlops.deployments', 'id'),
            ('alert_action', 'mlops.alert_actions', 'rule_id'),
            ('api_key', 'mlops.http_api_keys', 'key_id'),
            ('input_constraints', 'mlops.input_constraints', 'model')
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
        ('chi_square_test'), ('adwin'), ('next_runs'), ('alert'), ('version'),
        ('predict_detail'), ('deployment_status'),
        ('dashboard_html'), ('_dashboard_activity'), ('_dashboard_rows'), ('model_report'),
        ('artifacts'), ('get_artifact'),
        -- A/B tests: what an application calls (assignment, prediction and
        -- conversions write only the test's own per-user rows) and the reads
        ('ab_assign'), ('ab_predict'), ('record_conversion'), ('ab_results'), ('ab_test_health'),
        ('feature_set_info'), ('get_online_features'), ('historical_features_sql'),
        ('_feature_ambiguous'), ('predict_entity'), ('predict_entity_detail'),
        ('validate_input')),
    reader_rel (name) AS (VALUES
        ('experiments'), ('runs'), ('run_metrics'), ('run_latest_metrics'), ('models'),
        ('model_aliases'), ('dashboard'), ('prediction_stats'), ('training_progress'),
        ('deployments'), ('deployment_events'), ('validations'), ('ab_tests'), ('feature_sets'), ('training_sets')),
    owner_fns (name) AS (VALUES ('set_owner'), ('audit'), ('audit_events')),
    -- row-level security shows a role the rows of the roles it belongs to
    scientist_rel (name) AS (VALUES ('pipeline_runs')),
    operator_rel (name) AS (VALUES ('jobs'), ('job_runs'), ('pipeline_runs'), ('api_keys')),
    scientist (name) AS (VALUES
        ('create_experiment'), ('start_run'), ('log_params'), ('log_metrics'), ('set_tags'),
        ('end_run'), ('train'), ('import_model'), ('export_model'), ('drop_model_version'),
        ('set_alias'), ('drop_alias'), ('detect_drift'), ('_detect_drift_distributions'), ('set_drift_reference'),
        ('set_drift_reference_from_model'), ('drop_drift_reference'), ('create_adwin'),
        ('update_adwin'), ('drop_adwin'), ('training_pipeline'), ('data_pipeline'),
        ('record_prediction'), ('record_actual'), ('drift_report'), ('log_artifact'),
        ('register_feature_set'), ('drop_feature_set'), ('create_training_set'), ('materialize'),
        ('materialize_incremental'), ('materialization_pipeline'), ('set_drift_reference_from_feature_set'),
        ('set_input_constraints')),
    deployer (name) AS (VALUES
        ('transition_stage'), ('set_alias'), ('drop_alias'),
        ('deploy'), ('promote_deployment'), ('set_canary_percent'), ('rollback'),
        ('approve_deployment'), ('refuse_deployment'), ('validate_model'), ('check_deployments'),
        ('deployment_pipeline'), ('create_ab_test'), ('set_ab_weights'), ('stop_ab_test')),
    operator (name) AS (VALUES
        ('create_monitor'), ('drop_monitor'), ('set_monitor_drift'), ('check_degradation'),
        ('monitoring_pipeline'), ('_monitor_pipeline_settings'), ('check_monitor_drift'), ('add_alert_rule'), ('drop_alert_rule'),
        ('set_alert_action'), ('check_deployments'),
        ('set_alert_rule_enabled'), ('check_alerts'), ('acknowledge_alert'), ('resolve_alert'),
        ('schedule'), ('unschedule'), ('alter_job'), ('run_job'), ('schedule_pipeline'),
        ('record_prediction'), ('record_actual'), ('prometheus_metrics'), ('model_cache'),
        ('materialize'), ('materialize_incremental'), ('materialization_pipeline'),
        ('create_api_key'), ('revoke_api_key')),
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
