-- a prediction recorded with an id, then its label
\set id random(1, 569)
\set key random(1, 4000000000000000000)
SELECT mlops.record_prediction('bc', (mlops.predict_proba('bc', j))[2], NULL, 'c' || :client_id || '-' || :key) FROM bc_inputs WHERE id = :id;
SELECT mlops.record_actual('bc', 'c' || :client_id || '-' || :key, (diagnosis = 'malignant')::int) FROM breast_cancer WHERE id = :id;
