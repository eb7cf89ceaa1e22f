-- Drift detection: statistics on arrays, drift references and checks, ADWIN.
-- SciPy agreement is tested by test/oracle/test_drift.py; this file pins the
-- behaviour and every error path.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- numeric statistics; NULL, NaN and infinite elements are dropped
SELECT round(mlops.psi(ARRAY[1,2,3,4,5,6,7,8,9,10], ARRAY[3,4,5,6,7,8,9,10,11,12], 5)::numeric, 12) AS psi_quantile,
       round(mlops.psi(ARRAY[1,2,3,4,5,6,7,8,9,10], ARRAY[3,4,5,6,7,8,9,10,11,12], 5, 'sturges')::numeric, 12) AS psi_sturges,
       round(mlops.kl_divergence(ARRAY[1,2,3,4,5,6,7,8,9,10], ARRAY[3,4,5,6,7,8,9,10,11,12], 5)::numeric, 12) AS kl,
       round(mlops.js_distance(ARRAY[1,2,3,4,5,6,7,8,9,10], ARRAY[3,4,5,6,7,8,9,10,11,12], 5)::numeric, 12) AS js,
       mlops.wasserstein(ARRAY[0,1,3], ARRAY[5,6,8]) AS wasserstein;
SELECT mlops.psi(ARRAY[1,2,NULL,3,'NaN','Infinity',4]::float8[], ARRAY[1,2,3,4,'-Infinity']::float8[], 2) AS psi_same;
SELECT statistic, round(p_value::numeric, 12) AS p_value FROM mlops.ks_test(ARRAY[1,2,3,4,5], ARRAY[6,7,8,9,10,11]);
SELECT * FROM mlops.ks_test(ARRAY[1,2,3], ARRAY[1,2,3]);
SELECT * FROM mlops.ks_test(ARRAY[7], ARRAY[7,7,7]);
SELECT statistic, round(p_value::numeric, 12) AS p_value FROM mlops.ks_test(ARRAY(SELECT g::float8 FROM generate_series(1, 20000) g),
                                                                   ARRAY(SELECT g::float8 + 500 FROM generate_series(1, 300) g));
-- categorical statistics
SELECT round(mlops.psi(ARRAY['a','a','b','c',NULL], ARRAY['a','b','b','d']::text[])::numeric, 12) AS psi_categorical;
SELECT round(statistic::numeric, 12) AS statistic, round(p_value::numeric, 12) AS p_value, dof
  FROM mlops.chi_square_test(ARRAY['a','a','a','b','b','c'], ARRAY['a','b','b','c','c','c','c']);
SELECT round(statistic::numeric, 12) AS statistic, round(p_value::numeric, 12) AS p_value, dof
  FROM mlops.chi_square_test(ARRAY['yes','yes','yes','no'], ARRAY['no','no','yes','no','no']);
SELECT * FROM mlops.chi_square_test(ARRAY['x'], ARRAY['x','x']);
-- STRICT: a NULL argument gives NULL
SELECT mlops.psi(NULL::float8[], ARRAY[1.0]) IS NULL AS null_in_null_out;

-- errors
SELECT mlops.psi(ARRAY[]::float8[], ARRAY[1.0]);
SELECT mlops.psi(ARRAY[1.0], ARRAY[NULL, 'NaN']::float8[]);
SELECT mlops.psi(ARRAY[1.0, 2.0], ARRAY[1.0], 1);
SELECT mlops.psi(ARRAY[1.0, 2.0], ARRAY[1.0], 10, 'equal');
SELECT mlops.kl_divergence(ARRAY['Infinity']::float8[], ARRAY[1.0]);
SELECT mlops.wasserstein(ARRAY[1.0], ARRAY[]::float8[]);
SELECT * FROM mlops.ks_test(ARRAY[NULL]::float8[], ARRAY[1.0]);
SELECT * FROM mlops.chi_square_test(ARRAY[NULL]::text[], ARRAY['a']);
SELECT mlops.psi(ARRAY['a'], ARRAY[]::text[]);
SELECT mlops.psi(ARRAY[-1e308], ARRAY[1e308], 10, 'sturges');
SELECT mlops.psi(ARRAY[1.0, 2.0], ARRAY[1.0], 10001);
SELECT mlops.psi(ARRAY[1.0, 2.0], ARRAY[1.0], 2147483647);
SELECT mlops.kl_divergence(ARRAY[1.0, 2.0], ARRAY[1.0], -2147483648);
SELECT mlops.js_distance(ARRAY[1.0, 2.0], ARRAY[1.0], 2147483647, 'sturges');
SELECT mlops.psi(ARRAY[1.0, 2.0], ARRAY[1.0], 10000) >= 0 AS max_bins_ok;
-- every array argument is one-dimensional: a 2-D array is refused, never flattened
SELECT * FROM mlops.ks_test(ARRAY[[1.0, 2.0], [3.0, 4.0]], ARRAY[1.0, 2.0]);
SELECT * FROM mlops.ks_test(ARRAY[1.0, 2.0], ARRAY[[[1.0]]]);
SELECT mlops.psi(ARRAY[[1.0, 2.0], [3.0, 4.0]], ARRAY[1.0, 2.0]);
SELECT mlops.wasserstein(ARRAY[1.0, 2.0], ARRAY[[1.0, 2.0]]);
SELECT mlops.psi(ARRAY[['a', 'b']], ARRAY['a']);
SELECT * FROM mlops.chi_square_test(ARRAY['a'], ARRAY[['a'], ['b']]);
SELECT mlops.adwin(ARRAY[[1.0, 2.0]]);

-- values near the largest float8: max - min overflows, the answers do not.  PSI, KL and JS of
-- values scaled by 2^1000 equal those of the unscaled values (SciPy agreement on extreme values
-- is in test/oracle/test_drift.py)
WITH s(r, c) AS (VALUES (ARRAY[-1.5e308, 1.5e308, 1.0e308, -1.0e308, 0.5e308]::float8[],
                          ARRAY[1.2e308, 1.4e308, 1.5e308, 1.1e308, -0.2e308]::float8[])),
     d(r, c) AS (SELECT ARRAY(SELECT x / 2^1000 FROM unnest(r) x), ARRAY(SELECT x / 2^1000 FROM unnest(c) x) FROM s)
SELECT round(mlops.psi(s.r, s.c, 4)::numeric, 12) AS psi_extreme,
       mlops.psi(s.r, s.c, 4) = mlops.psi(d.r, d.c, 4) AS psi_same,
       mlops.kl_divergence(s.r, s.c, 3) = mlops.kl_divergence(d.r, d.c, 3) AND mlops.kl_divergence(s.r, s.c, 3) > 0 AS kl_same,
       mlops.js_distance(s.r, s.c, 5) = mlops.js_distance(d.r, d.c, 5) AND mlops.js_distance(s.r, s.c, 5) > 0 AS js_same,
       mlops.psi(s.r, s.c, 10, 'sturges') = mlops.psi(d.r, d.c, 10, 'sturges') AS sturges_same,
       mlops.wasserstein(s.r, s.c) AS wasserstein_extreme,
       mlops.wasserstein(s.r, s.c) = mlops.wasserstein(d.r, d.c) * 2^1000 AS wasserstein_same
  FROM s, d;
SELECT mlops.wasserstein(ARRAY[-8e307], ARRAY[8e307]) AS wasserstein_beyond_max_minus_min;
SELECT mlops.wasserstein(ARRAY[-1.7e308], ARRAY[1.7e308]);
SELECT statistic, p_value FROM mlops.ks_test(ARRAY[-1.7e308, 1.7e308], ARRAY[1.6e308, 1.7e308, 1.75e308]);

-- ADWIN over an array: River's behaviour on a step from 0 to 10
SELECT mlops.adwin(ARRAY(SELECT CASE WHEN g < 500 THEN (g % 2)::float8 ELSE 10 + g % 3 END FROM generate_series(0, 999) g)) AS detections;
SELECT mlops.adwin(ARRAY(SELECT 1.0::float8 FROM generate_series(1, 3000))) AS constant_stream;
-- positions count the dropped elements too
SELECT mlops.adwin(ARRAY[NULL, 'NaN']::float8[] || ARRAY(SELECT CASE WHEN g < 500 THEN 0 ELSE 10 END::float8 FROM generate_series(0, 999) g)) AS shifted;
SELECT mlops.adwin(ARRAY[1.0], 0);
SELECT mlops.adwin(ARRAY[1.0], 1);
SELECT mlops.adwin(ARRAY[1.0], 'NaN');
SELECT mlops.adwin(ARRAY[NULL]::float8[]);
-- values beyond +-1e100 would overflow the window's variance
SELECT mlops.adwin(ARRAY[1.0, NULL, 2.0, 1e101]);
SELECT mlops.adwin(ARRAY[-1e100, 1e100]) AS at_the_limits;

-- streaming ADWIN detectors
SELECT mlops.create_adwin('latency');
SELECT count(*) FILTER (WHERE mlops.update_adwin('latency', CASE WHEN g < 500 THEN (g % 2)::float8 ELSE 10 + g % 3 END)) AS detected
  FROM generate_series(0, 999) g;
SELECT mlops.update_adwin('latency', NULL) IS NULL AS null_dropped, mlops.update_adwin('latency', 'NaN') IS NULL AS nan_dropped;
SELECT name, delta, width, round(mean::numeric, 9) AS mean, updates, detections, dropped, last_detection_at IS NOT NULL AS detected_once
  FROM mlops.adwin_detectors;
SELECT mlops.create_adwin('latency');
SELECT mlops.create_adwin('x', 1.5);
SELECT mlops.create_adwin('', 0.1);
SELECT mlops.update_adwin('nope', 1);
SELECT mlops.create_adwin('x', NULL);
SELECT mlops.update_adwin(NULL, 1);
SELECT mlops.update_adwin('latency', -1e300);
-- names are 1 to 128 characters (the key is indexed)
SELECT mlops.create_adwin(repeat('a', 129));
SELECT mlops.update_adwin(repeat('a', 100000), 1);
SELECT mlops.drop_adwin(repeat('é', 129));
SELECT mlops.create_adwin(repeat('é', 128));
SELECT mlops.drop_adwin(repeat('é', 128));
-- a state this build did not write is refused, not trusted
UPDATE mlops.adwin_detectors SET state = '\x00' WHERE name = 'latency';
SELECT mlops.update_adwin('latency', 1);
SELECT mlops.drop_adwin('latency');
SELECT mlops.drop_adwin('latency');
SELECT action, resource_type, resource_id FROM mlops.audit_log WHERE resource_type = 'adwin_detector' ORDER BY event_id;

-- drift references from a table and from a query
CREATE TYPE plan AS ENUM ('basic', 'pro');
CREATE TABLE train_rows (id int, age float8, income numeric, plan plan, active boolean, note text, seen date);
INSERT INTO train_rows
SELECT g, 20 + (g * 7919) % 40, 1000 + (g * 104729) % 5000, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'basic' END::plan,
       g % 4 <> 0, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' || (g % 3) END, DATE '2024-01-01' + g
  FROM generate_series(1, 1000) g;
SELECT mlops.set_drift_reference('customers', 'train_rows');
SELECT mlops.set_drift_reference('customers_q', 'SELECT age, plan FROM train_rows WHERE id <= 500;', ARRAY['age', 'plan']);
SELECT name, source, source_kind, row_count, created_by = current_user AS by_me FROM mlops.drift_references ORDER BY name;
SELECT reference_name, column_name, kind, value_count, dropped_count, cardinality(sorted_values) AS values_kept, categories
  FROM mlops.drift_reference_columns ORDER BY reference_name, ordinal;

-- same data: no drift; default methods are psi+ks (numeric) and psi+chi_square (categorical)
SELECT mlops.detect_drift('customers', 'train_rows') AS report \gset
SELECT jsonb_pretty(:'report'::jsonb);
-- shifted data drifts; explicit methods, columns and thresholds
CREATE TABLE live_rows AS
SELECT id, age + 8 AS age, income, CASE WHEN id % 2 = 0 THEN 'pro' ELSE 'basic' END::plan AS plan, active, note
  FROM train_rows;
SELECT jsonb_pretty(mlops.detect_drift('customers', 'SELECT * FROM live_rows',
                                       ARRAY['psi', 'kl_divergence', 'js_distance', 'ks', 'wasserstein', 'chi_square'],
                                       ARRAY['age', 'plan'],
                                       '{"psi": 0.3, "wasserstein": 5, "age": {"ks": 0.01}}'));
SELECT column_name, method, round(value::numeric, 9) AS value, round(p_value::numeric, 9) AS p_value, threshold, drift,
       checked_by = current_user AS by_me
  FROM mlops.drift_results ORDER BY result_id;
SELECT action, resource_id, details FROM mlops.audit_log WHERE resource_type = 'drift_reference' ORDER BY event_id;

-- errors
SELECT mlops.set_drift_reference('', 'train_rows');
SELECT mlops.set_drift_reference('r', NULL);
SELECT mlops.set_drift_reference(NULL, 'train_rows');
SELECT mlops.set_drift_reference('r', '   ');
SELECT mlops.set_drift_reference('r', 'no_such_table');
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY['age', 'nope']);
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY['age', 'age']);
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY['seen']);
SELECT mlops.set_drift_reference('r', 'SELECT seen FROM train_rows');
SELECT mlops.set_drift_reference('r', 'SELECT age FROM train_rows WHERE false');
SELECT mlops.set_drift_reference('r', 'INSERT INTO train_rows DEFAULT VALUES RETURNING age');
SELECT mlops.detect_drift('nope', 'train_rows');
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY['psi', 'magic']);
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY[]::text[]);
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY['wasserstein']);
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY['chi_square'], ARRAY['age']);
SELECT mlops.detect_drift('customers', 'train_rows', NULL, ARRAY['nope']);
SELECT mlops.detect_drift('customers', 'train_rows', NULL, NULL, '[1]');
SELECT mlops.detect_drift('customers', 'train_rows', NULL, NULL, '{"psi": "high"}');
SELECT mlops.detect_drift('customers', 'train_rows', NULL, NULL, '{"ks": 2}');
SELECT mlops.detect_drift('customers', 'train_rows', NULL, NULL, '{"colour": 1}');
SELECT mlops.detect_drift('customers', 'train_rows', NULL, ARRAY['age'], '{"plan": {"psi": 1}}');
SELECT mlops.detect_drift('customers', 'SELECT id, age FROM train_rows');
SELECT mlops.detect_drift('customers', 'SELECT id, age::text AS age, income, plan, active, note FROM train_rows');
SELECT mlops.detect_drift('customers', 'SELECT * FROM train_rows WHERE id < 0');
SELECT mlops.detect_drift('customers', 'train_rows', NULL, ARRAY['age', NULL]);
SELECT mlops.detect_drift('customers', 'train_rows', NULL, ARRAY['age', 'age']);
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY['psi', NULL]);
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY[]::text[]);
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY[['age'], ['plan']]);
SELECT mlops.detect_drift('customers', 'train_rows', ARRAY[['psi']]);
SELECT mlops.set_drift_reference('r', 'train_rows', ARRAY(SELECT 'c' || g FROM generate_series(1, 2000) g));
-- names are 1 to 128 characters, and messages echo at most 200 bytes of one
SELECT mlops.set_drift_reference(repeat('r', 129), 'train_rows');
SELECT mlops.detect_drift(repeat('r', 100000), 'train_rows');
SELECT mlops.drop_drift_reference(repeat('r', 100000));
SELECT mlops.set_drift_reference_from_model(repeat('r', 129), 'no_such_model');
-- stored categories whose counts do not pair up are refused, not trusted
UPDATE mlops.drift_reference_columns SET category_counts = '{1}' WHERE reference_name = 'customers_q' AND column_name = 'plan';
SELECT mlops.detect_drift('customers_q', 'train_rows');
SELECT mlops.drop_drift_reference('customers_q');
SELECT mlops.drop_drift_reference('customers_q');

-- a reference from a model's training statistics (input_schema)
SELECT mlops._register_model_version('churn', decode('7b226c6561726e6572223a7b2261747472696275746573223a7b22626573745f697465726174696f6e223a2230222c22626573745f6e747265655f6c696d6974223a2231227d2c22666561747572655f6e616d6573223a5b22616765222c22706c616e5f636f6465225d2c22666561747572655f7479706573223a5b5d2c226772616469656e745f626f6f73746572223a7b226d6f64656c223a7b226762747265655f6d6f64656c5f706172616d223a7b226e756d5f706172616c6c656c5f74726565223a2231222c226e756d5f7472656573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d2c22747265655f696e666f223a5b305d2c227472656573223a5b7b22626173655f77656967687473223a5b2d3045305d2c2263617465676f72696573223a5b5d2c2263617465676f726965735f6e6f646573223a5b5d2c2263617465676f726965735f7365676d656e7473223a5b5d2c2263617465676f726965735f73697a6573223a5b5d2c2264656661756c745f6c656674223a5b305d2c226964223a302c226c6566745f6368696c6472656e223a5b2d315d2c226c6f73735f6368616e676573223a5b3045305d2c22706172656e7473223a5b323134373438333634375d2c2272696768745f6368696c6472656e223a5b2d315d2c2273706c69745f636f6e646974696f6e73223a5b2d3045305d2c2273706c69745f696e6469636573223a5b305d2c2273706c69745f74797065223a5b305d2c2273756d5f6865737369616e223a5b312e3545305d2c22747265655f706172616d223a7b226e756d5f64656c65746564223a2230222c226e756d5f66656174757265223a2232222c226e756d5f6e6f646573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d7d5d7d2c226e616d65223a22676274726565227d2c226c6561726e65725f6d6f64656c5f706172616d223a7b22626173655f73636f7265223a2235452d31222c22626f6f73745f66726f6d5f61766572616765223a2230222c226e756d5f636c617373223a2230222c226e756d5f66656174757265223a2232222c226e756d5f746172676574223a2231227d2c226f626a656374697665223a7b226e616d65223a2262696e6172793a6c6f676973746963222c227265675f6c6f73735f706172616d223a7b227363616c655f706f735f776569676874223a2231227d7d7d2c2276657273696f6e223a5b312c372c345d7d', 'hex'), NULL, 'classification', 'xgboost',
         ARRAY['age', 'plan'],
         '{"features": [{"name": "age", "type": "float",
                         "stats": {"count": 100, "min": 20, "max": 60, "mean": 40, "null_share": 0.1,
                                   "histogram": {"edges": [20, 30, 40, 50, 60], "counts": [20, 30, 25, 15]}}},
                        {"name": "plan", "type": "categorical", "categories": ["basic", "pro"],
                         "stats": {"count": 90, "null_share": 0, "category_counts": {"basic": 60, "pro": 30}}},
                        {"name": "extra", "type": "float"}],
           "label": {"name": "churned", "type": "boolean", "classes": ["no", "yes"]}}',
         '{}', '{}', '{}') AS version;
SELECT mlops.set_drift_reference_from_model('churn_training', 'churn/1');
SELECT jsonb_pretty(mlops.detect_drift('churn_training', 'live_rows'));
SELECT mlops.detect_drift('churn_training', 'live_rows', ARRAY['ks']);
SELECT mlops.set_drift_reference_from_model('x', 'no_such_model');
SELECT mlops._register_model_version('bare', decode('7b226c6561726e6572223a7b2261747472696275746573223a7b22626573745f697465726174696f6e223a2230222c22626573745f6e747265655f6c696d6974223a2231227d2c22666561747572655f6e616d6573223a5b22616765222c22706c616e5f636f6465225d2c22666561747572655f7479706573223a5b5d2c226772616469656e745f626f6f73746572223a7b226d6f64656c223a7b226762747265655f6d6f64656c5f706172616d223a7b226e756d5f706172616c6c656c5f74726565223a2231222c226e756d5f7472656573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d2c22747265655f696e666f223a5b305d2c227472656573223a5b7b22626173655f77656967687473223a5b2d3045305d2c2263617465676f72696573223a5b5d2c2263617465676f726965735f6e6f646573223a5b5d2c2263617465676f726965735f7365676d656e7473223a5b5d2c2263617465676f726965735f73697a6573223a5b5d2c2264656661756c745f6c656674223a5b305d2c226964223a302c226c6566745f6368696c6472656e223a5b2d315d2c226c6f73735f6368616e676573223a5b3045305d2c22706172656e7473223a5b323134373438333634375d2c2272696768745f6368696c6472656e223a5b2d315d2c2273706c69745f636f6e646974696f6e73223a5b2d3045305d2c2273706c69745f696e6469636573223a5b305d2c2273706c69745f74797065223a5b305d2c2273756d5f6865737369616e223a5b312e3545305d2c22747265655f706172616d223a7b226e756d5f64656c65746564223a2230222c226e756d5f66656174757265223a2232222c226e756d5f6e6f646573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d7d5d7d2c226e616d65223a22676274726565227d2c226c6561726e65725f6d6f64656c5f706172616d223a7b22626173655f73636f7265223a2235452d31222c22626f6f73745f66726f6d5f61766572616765223a2230222c226e756d5f636c617373223a2230222c226e756d5f66656174757265223a2232222c226e756d5f746172676574223a2231227d2c226f626a656374697665223a7b226e616d65223a2262696e6172793a6c6f676973746963222c227265675f6c6f73735f706172616d223a7b227363616c655f706f735f776569676874223a2231227d7d7d2c2276657273696f6e223a5b312c372c345d7d', 'hex'), NULL, 'classification', 'xgboost',
         NULL, NULL, '{}', '{}', '{}') AS version;
SELECT mlops.set_drift_reference_from_model('x', 'bare/1');
SELECT mlops.set_drift_reference_from_model('', 'churn/1');
-- malformed training statistics are refused
SELECT mlops._register_model_version('bad', decode('7b226c6561726e6572223a7b2261747472696275746573223a7b22626573745f697465726174696f6e223a2230222c22626573745f6e747265655f6c696d6974223a2231227d2c22666561747572655f6e616d6573223a5b22616765222c22706c616e5f636f6465225d2c22666561747572655f7479706573223a5b5d2c226772616469656e745f626f6f73746572223a7b226d6f64656c223a7b226762747265655f6d6f64656c5f706172616d223a7b226e756d5f706172616c6c656c5f74726565223a2231222c226e756d5f7472656573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d2c22747265655f696e666f223a5b305d2c227472656573223a5b7b22626173655f77656967687473223a5b2d3045305d2c2263617465676f72696573223a5b5d2c2263617465676f726965735f6e6f646573223a5b5d2c2263617465676f726965735f7365676d656e7473223a5b5d2c2263617465676f726965735f73697a6573223a5b5d2c2264656661756c745f6c656674223a5b305d2c226964223a302c226c6566745f6368696c6472656e223a5b2d315d2c226c6f73735f6368616e676573223a5b3045305d2c22706172656e7473223a5b323134373438333634375d2c2272696768745f6368696c6472656e223a5b2d315d2c2273706c69745f636f6e646974696f6e73223a5b2d3045305d2c2273706c69745f696e6469636573223a5b305d2c2273706c69745f74797065223a5b305d2c2273756d5f6865737369616e223a5b312e3545305d2c22747265655f706172616d223a7b226e756d5f64656c65746564223a2230222c226e756d5f66656174757265223a2232222c226e756d5f6e6f646573223a2231222c2273697a655f6c6561665f766563746f72223a2230227d7d5d7d2c226e616d65223a22676274726565227d2c226c6561726e65725f6d6f64656c5f706172616d223a7b22626173655f73636f7265223a2235452d31222c22626f6f73745f66726f6d5f61766572616765223a2230222c226e756d5f636c617373223a2230222c226e756d5f66656174757265223a2232222c226e756d5f746172676574223a2231227d2c226f626a656374697665223a7b226e616d65223a2262696e6172793a6c6f676973746963222c227265675f6c6f73735f706172616d223a7b227363616c655f706f735f776569676874223a2231227d7d7d2c2276657273696f6e223a5b312c372c345d7d', 'hex'), NULL, 'classification', 'xgboost', NULL, s::jsonb, '{}', '{}', '{}')
  FROM unnest(ARRAY[
    '{"features": [{"name": "a", "stats": {"histogram": {"edges": [1, 2, 3], "counts": [5]}}}]}',
    '{"features": [{"name": "a", "stats": {"histogram": {"edges": [3, 2, 1], "counts": [5, 5]}}}]}',
    '{"features": [{"name": "a", "stats": {"histogram": {"edges": [1, 2], "counts": [0]}}}]}',
    '{"features": [{"name": "c", "stats": {"category_counts": {"x": -1}}}]}',
    '{"features": [{"stats": {"category_counts": {"x": 1}}}]}',
    '{"features": [{"name": "a", "stats": {"histogram": {"edges": [1, 2], "counts": [1e300]}}}]}']) WITH ORDINALITY AS t(s, n) ORDER BY n;
SELECT mlops.set_drift_reference_from_model('x', 'bad/1');
SELECT mlops.set_drift_reference_from_model('x', 'bad/2');
SELECT mlops.set_drift_reference_from_model('x', 'bad/3');
SELECT mlops.set_drift_reference_from_model('x', 'bad/4');
SELECT mlops.set_drift_reference_from_model('x', 'bad/5');
SELECT mlops.set_drift_reference_from_model('x', 'bad/6');

-- a reference made by mlops.train reads the current data as training did:
-- char(n) values keep their padding, booleans are the numbers 0 and 1
CREATE TABLE graded (grade char(3), member boolean, score float8, passed text);
INSERT INTO graded
SELECT (ARRAY['a', 'bb', 'ccc'])[g % 3 + 1], g % 2 = 0, g % 11, CASE WHEN g % 4 = 0 THEN 'yes' ELSE 'no' END
  FROM generate_series(1, 300) g;
SET mlops.train_progress_rounds = 0;
SELECT version FROM mlops.train('graded', 'graded', 'passed', hyperparams => '{"n_estimators": 2}', test_size => 0);
SELECT mlops.set_drift_reference_from_model('graded_training', 'graded/1');
SELECT c.key AS column_name, m.key AS method, round((COALESCE(m.value->>'value', m.value->>'statistic'))::numeric, 9) AS value,
       m.value->'drift' AS drift
  FROM jsonb_each(mlops.detect_drift('graded_training', 'graded', ARRAY['psi', 'chi_square']) -> 'columns') c,
       jsonb_each(c.value) m
 ORDER BY 1, 2;

-- privileges: nothing for PUBLIC; the documented grants let a role check its own tables
CREATE ROLE drift_user;
SET ROLE drift_user;
SELECT mlops.psi(ARRAY[1.0], ARRAY[1.0]);
RESET ROLE;
GRANT USAGE ON SCHEMA mlops TO drift_user;
GRANT EXECUTE ON FUNCTION mlops.detect_drift(text, text, text[], text[], jsonb),
                          mlops.set_drift_reference(text, text, text[]) TO drift_user;
GRANT SELECT ON mlops.drift_results TO drift_user;
SET ROLE drift_user;
SELECT mlops.detect_drift('customers', 'live_rows');
CREATE TEMP TABLE mine AS SELECT age, plan FROM (VALUES (20.0::float8, 'pro'::text), (25.0, 'basic')) v(age, plan);
SELECT (mlops.set_drift_reference('mine', 'mine')) ->> 'rows' AS rows;
SELECT (mlops.detect_drift('mine', 'mine')) ->> 'drift_detected' AS drift;
SELECT count(*) > 0 AS can_read_results FROM mlops.drift_results WHERE checked_by = 'drift_user';
SELECT count(*) FROM mlops.drift_reference_columns;
INSERT INTO mlops.drift_results (reference_name, checked_at, column_name, method, value, threshold, drift, checked_by)
VALUES ('x', now(), 'c', 'psi', 0, 0, false, 'me');
RESET ROLE;

-- ownership: a reference and a detector belong to the role that made them; only members of
-- that role may replace, drop, check against or feed them
CREATE ROLE drift_alice;
CREATE ROLE drift_bob;
CREATE ROLE drift_team;
GRANT drift_team TO drift_bob;
SELECT mlops.grant_capability(r, 'scientist') FROM unnest(ARRAY['drift_alice', 'drift_bob']) r;
GRANT SELECT ON train_rows TO drift_alice, drift_bob;
SET ROLE drift_alice;
SELECT mlops.set_drift_reference('alice_ref', 'SELECT age FROM train_rows') ->> 'rows' AS rows;
SELECT mlops.create_adwin('alice_adwin');
RESET ROLE;
SELECT name, owner, created_by FROM mlops.drift_references WHERE name = 'alice_ref'
UNION ALL SELECT name, owner, created_by FROM mlops.adwin_detectors WHERE name = 'alice_adwin';
SET ROLE drift_bob;
\set VERBOSITY default
SELECT mlops.set_drift_reference('alice_ref', 'SELECT age + 100 AS age FROM train_rows');
\set VERBOSITY terse
SELECT mlops.set_drift_reference_from_model('alice_ref', 'churn/1');
SELECT mlops.detect_drift('alice_ref', 'SELECT age + 100 AS age FROM train_rows');
SELECT mlops.drop_drift_reference('alice_ref');
SELECT mlops.update_adwin('alice_adwin', 1);
SELECT mlops.update_adwin('alice_adwin', NULL);
SELECT mlops.drop_adwin('alice_adwin');
SELECT mlops.set_owner('drift_reference', 'alice_ref', 'drift_bob');
SELECT mlops.set_owner('adwin', 'alice_adwin', 'drift_bob');
\set VERBOSITY default
RESET ROLE;
SELECT row_count FROM mlops.drift_references WHERE name = 'alice_ref';
SELECT updates, dropped FROM mlops.adwin_detectors WHERE name = 'alice_adwin';
-- handed to the team, bob (a member) may; alice, who is not one, no longer may
SELECT mlops.set_owner('drift_reference', 'alice_ref', 'drift_team');
SELECT mlops.set_owner('adwin', 'alice_adwin', 'drift_team');
SET ROLE drift_bob;
SELECT mlops.set_drift_reference('alice_ref', 'SELECT age + 100 AS age FROM train_rows') ->> 'rows' AS rows;
SELECT mlops.detect_drift('alice_ref', 'SELECT age FROM train_rows') ->> 'drift_detected' AS drift;
SELECT mlops.update_adwin('alice_adwin', 1);
SELECT mlops.set_owner('adwin', 'alice_adwin', 'drift_bob');
RESET ROLE;
SELECT name, owner, created_by FROM mlops.drift_references WHERE name = 'alice_ref'
UNION ALL SELECT name, owner, created_by FROM mlops.adwin_detectors WHERE name = 'alice_adwin';
SET ROLE drift_alice;
SELECT mlops.drop_drift_reference('alice_ref');
SELECT mlops.drop_adwin('alice_adwin');
RESET ROLE;
SET ROLE drift_bob;
SELECT mlops.drop_drift_reference('alice_ref');
SELECT mlops.drop_adwin('alice_adwin');
RESET ROLE;
SELECT action, resource_type, resource_id, user_name, details FROM mlops.audit_log
 WHERE action = 'ownership.set' ORDER BY event_id;

DROP TABLE train_rows, live_rows, graded;
DROP TYPE plan;
DROP EXTENSION mlops;
DROP OWNED BY drift_user, drift_alice, drift_bob, drift_team;
DROP ROLE drift_user, drift_alice, drift_bob, drift_team;
