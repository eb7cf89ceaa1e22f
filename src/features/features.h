/*
 * features.h
 *		The face of src/features/: the feature store's definitions, feature
 *		references, point-in-time joins and the online store.
 *
 * Everything here runs inside an SQL-callable function with SPI connected.
 * Sources are read as the caller (common/source.c); catalog rows are read
 * and written as the extension owner (MlopsBeginOwner) through the SQL
 * functions of sql/install/65_features.sql.
 */
#ifndef MLOPS_FEATURES_H
#define MLOPS_FEATURES_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/array.h"

/* One version of a feature set, as registered */
typedef struct FeatureSetDef
{
	char	   *name;
	int32		version;
	int32		latest_version;
	int32		online_version;	/* 0 when never materialised */
	char	   *source;
	char	   *entity_column;
	char	   *entity_type;
	char	   *timestamp_column;
	char	   *timestamp_type;
	char	   *created_column; /* NULL when none */
	char	   *created_type;
	char	   *ttl;			/* interval text, NULL when none */
	int			nfeatures;
	char	  **feature_names;
	char	  **feature_types;
	Oid			owner;
	bool		has_watermark;
	TimestampTz watermark;
} FeatureSetDef;

/* The features a call asks for from one version of one feature set */
typedef struct FeatureRequest
{
	FeatureSetDef *def;
	int			nfeatures;
	int		   *feature_index;	/* into def->feature_names */
} FeatureRequest;

/* features_common.c */
extern void FeatureSetCheckName(const char *name);
extern FeatureSetDef *FeatureSetLoad(const char *name, int32 version);
extern FeatureRequest *FeatureRefsParse(ArrayType *refs, int *nrequests);
extern TupleDesc FeatureDescribeQuery(const char *query);
extern int	FeatureFindColumn(TupleDesc tupdesc, const char *name);
extern char *FeatureTypeName(TupleDesc tupdesc, int attno);
extern char *FeatureSourceCheck(FeatureSetDef *def);
extern char *FeatureTextArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int64 FeatureRunOwner(const char *sql, int nargs, Oid *types, Datum *values, bool *isnull);
extern bool FeatureIsTimestampType(const char *type);

/* pit_join.c */
extern char *FeaturePointInTimeSql(const char *entity_query, TupleDesc entity_desc,
								   const char *event_column, FeatureRequest *reqs, int nreqs);

/* pit_merge.c */
extern int64 FeatureMergeCreate(const char *qualified, const char *entity_query, TupleDesc entity_desc,
								const char *event_column, FeatureRequest *reqs, int nreqs, char **fqueries,
								const char *join_sql);

#endif							/* MLOPS_FEATURES_H */
