
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
