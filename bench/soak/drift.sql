-- drift of a slice of the data against the reference
\set r random(0, 6)
SELECT mlops.detect_drift('bcref', pg_catalog.format('SELECT mean_radius, mean_texture, worst_area FROM breast_cancer WHERE id %% 7 = %s', :r));
