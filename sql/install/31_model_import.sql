-- Importing and exporting XGBoost models (src/model_import.c, src/modelcheck.c).
-- import_model validates the bytes with mlops' own bounds-checked decoder and
-- XGBoost-schema validator before libxgboost ever sees them, stores canonical
-- JSON through mlops._register_model_version (with an input_schema when the
-- model has feature names, so it serves named features) and returns the new
-- version.

CREATE FUNCTION mlops.import_model(name text, model bytea, feature_names text[] DEFAULT NULL,
                                   task text DEFAULT NULL, metrics jsonb DEFAULT '{}',
                                   params jsonb DEFAULT '{}', tags jsonb DEFAULT '{}')
    RETURNS integer
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'mlops_import_model';
REVOKE ALL ON FUNCTION mlops.import_model(text, bytea, text[], text, jsonb, jsonb, jsonb) FROM PUBLIC;

-- export_model returns the stored booster (JSON) of a model reference, after
-- verifying its SHA-256; any XGBoost binding loads it.
CREATE FUNCTION mlops.export_model(model text)
    RETURNS bytea
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'mlops_export_model';
REVOKE ALL ON FUNCTION mlops.export_model(text) FROM PUBLIC;
