-- predict_batch of 20 instances, and predict_table over 100 rows of a query
\set id random(1, 549)
SELECT mlops.predict_batch('bc', (SELECT pg_catalog.jsonb_agg(j ORDER BY id) FROM bc_inputs WHERE id BETWEEN :id AND :id + 19));
SELECT count(*) FROM mlops.predict_table('bc', 'SELECT * FROM breast_cancer WHERE id <= 100', 'id');
