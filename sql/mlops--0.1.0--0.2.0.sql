-- mlops 0.1.0 -> 0.2.0 (ALTER EXTENSION mlops UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0, in the order the install pieces (sql/install/) make them; a fresh
-- 0.2.0 install and an updated 0.1.0 database must end up with the same schema (test/t/005_upgrade.pl
-- compares their pg_dump --schema-only).  What changed for users is in CHANGELOG.md.
\echo Use "ALTER EXTENSION mlops UPDATE TO '0.2.0'" to load this file. \quit

-- ==== common: sources, settings, security ====


-- ==== registry and model import ====


-- ==== training ====


-- ==== serving ====


-- ==== drift ====


-- ==== monitoring and alerts ====


-- ==== scheduler and pipelines ====


-- ==== audit and trust model ====


-- ==== end ====
