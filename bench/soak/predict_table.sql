-- predict_table over 22,760 rows: one full chunk of 16,384 (predicted on the helper thread) and a partial one
SELECT count(*) FROM mlops.predict_table('bc', 'bc_big', 'id');
