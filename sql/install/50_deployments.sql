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
                IF pg_catalog.jsonb_typeof(s->'percent') IS DISTINCT FROM 'number'
                   OR (s->>'percent')::float8 OPERATOR(pg_catalog.<=) 0 OR (s->>'percent')::float8 OPERATOR(pg_catalog.>) 100 THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s: percent must be a number in (0, 100]', i);
                ELSIF (s->>'percent')::float8 OPERATOR(pg_catalog.<=) prev THEN
                    problems := problems OPERATOR(pg_catalog.||) pg_catalog.format('step %s: percent must grow from step to step', i);
                ELSE
                    prev := (s->>'percent')::float8;
                END IF;
                IF pg_catalog.jsonb_typeof(s->'after') IS DISTINCT FROM 'string'
                   OR pg_catalog.length(s->>'after') OPERATOR(pg_catalog.>) 100
                   OR mlops._deploy_interval(s->>'after') IS NULL THEN
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
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(f.value->'name', f.value->'type') ORDER BY f.ordinality)
      FROM mlops.model_versions v, pg_catalog.jsonb_array_elements(v.input_schema->'features') WITH ORDINALITY f
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
    IF COALESCE((m->>'rows')::bigint, 0) OPERATOR(pg_catalog.=) 0 THEN
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
    IF ar IS NULL OR (cand->>'calls')::bigint OPERATOR(pg_catalog.<) COALESCE((ar->>'min_requests')::float8, 0) THEN
        RETURN NULL;
    END IF;
    IF ar ? 'max_error_rate' AND (cand->>'error_rate')::float8 OPERATOR(pg_catalog.>) (ar->>'max_error_rate')::float8 THEN
        RETURN pg_catalog.format('error rate %s above max_error_rate %s', cand->>'error_rate', ar->>'max_error_rate');
    END IF;
    IF ar ? 'max_p95_latency_ms' AND (cand->>'p95_ms')::float8 OPERATOR(pg_catalog.>) (ar->>'max_p95_latency_ms')::float8 THEN
        RETURN pg_catalog.format('p95 latency %s ms above max_p95_latency_ms %s', cand->>'p95_ms', ar->>'max_p95_latency_ms');
    END IF;
    IF ar ? 'max_metric_drop' THEN
        m := mlops._deployment_labelled_metrics(d);
        SELECT x.baseline_metrics INTO baseline FROM mlops.monitors x WHERE x.model OPERATOR(pg_catalog.=) d.model;
        IF m IS NOT NULL AND baseline IS NOT NULL THEN
            FOR k, drop_allowed IN SELECT e.key, e.value::text::float8 FROM pg_catalog.jsonb_each(ar->'max_metric_drop') e LOOP
                IF pg_catalog.jsonb_typeof(m->k) OPERATOR(pg_catalog.=) 'number'
                   AND pg_catalog.jsonb_typeof(baseline->k) OPERATOR(pg_catalog.=) 'number' THEN
                    dropped := CASE WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['mae', 'mse', 'rmse', 'mape'])
                                    THEN (m->>k)::float8 OPERATOR(pg_catalog.-) (baseline->>k)::float8
                                    ELSE (baseline->>k)::float8 OPERATOR(pg_catalog.-) (m->>k)::float8 END;
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
                   reason = 'automatic rollback: ' OPERATOR(pg_catalog.||) breach, updated_at = pg_catalog.now()
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
           OR (cand->>'calls')::bigint OPERATOR(pg_catalog.<) COALESCE((d.auto_rollback->>'min_requests')::float8, 0) THEN
            CONTINUE;
        END IF;
        step := d.steps->d.step_index;
        IF pg_catalog.now() OPERATOR(pg_catalog.<) (d.step_started_at OPERATOR(pg_catalog.+) mlops._deploy_interval(step->>'after')) THEN
            CONTINUE;
        END IF;
        IF (step->>'percent')::float8 OPERATOR(pg_catalog.>=) 100 THEN
            PERFORM mlops._deployment_switch(d, 'promote', 'canary steps completed');
            deployment_id := d.id; model := d.model; action := 'promoted'; detail := 'canary steps completed';
        ELSE
            UPDATE mlops.deployments x SET percent = (step->>'percent')::float8, step_index = x.step_index OPERATOR(pg_catalog.+) 1,
                   step_started_at = pg_catalog.now(), updated_at = pg_catalog.now()
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
