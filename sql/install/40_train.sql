-- Training XGBoost models in the database (src/train/, src/common/dataset.c).
-- mlops.train reads its source as the calling user (SECURITY INVOKER) and
-- writes the run and the model version as the extension owner.

-- train reads source, trains a booster and registers it as a new version.
CREATE FUNCTION mlops.train(model_name text, source text, target text,
                            task text DEFAULT 'classification',
                            hyperparams jsonb DEFAULT '{}',
                            features text[] DEFAULT NULL,
                            test_size float8 DEFAULT 0.25,
                            test_sampling text DEFAULT 'random',
                            experiment text DEFAULT NULL,
                            seed integer DEFAULT 42)
    RETURNS TABLE(run_id bigint, version integer, metrics jsonb)
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    AS 'MODULE_PATHNAME', 'mlops_train';
REVOKE ALL ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, text, text, integer) FROM PUBLIC;

-- training_progress: one row per training running in the cluster.  Readers
-- need SELECT on the view and EXECUTE on its function (docs/training.md).
CREATE FUNCTION mlops._training_progress()
    RETURNS TABLE(pid integer, model text, round integer, total_rounds integer,
                  elapsed interval, last_metric text)
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'mlops_training_progress';
REVOKE ALL ON FUNCTION mlops._training_progress() FROM PUBLIC;
CREATE VIEW mlops.training_progress AS SELECT * FROM mlops._training_progress();
REVOKE ALL ON mlops.training_progress FROM PUBLIC;
