-- predict in every input form: float8[], jsonb, text; and predict_proba, predict_label
\set id random(1, 569)
SELECT mlops.predict('bc', v) FROM bc_inputs WHERE id = :id;
SELECT mlops.predict_proba('bc', j) FROM bc_inputs WHERE id = :id;
SELECT mlops.predict_label('bc', t) FROM bc_inputs WHERE id = :id;
SELECT mlops.predict('bc/1', j) FROM bc_inputs WHERE id = :id;
