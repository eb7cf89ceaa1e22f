/*
 * predict.c
 *		Serving predictions from SQL.
 *
 * Design
 * ------
 * Every prediction function resolves its model reference through the
 * per-backend cache (model_cache.c), turns its input into a row-major
 * float32 matrix encoded exactly like the training matrix (dataset.c's
 * EncodeFeatureDatum and the model's stored categories), runs XGBoost's
 * in-place prediction (no DMatrix) and converts the raw output:
 *
 *   predict        regression: the value; classification: the predicted
 *                  class code (index into input_schema.label.classes);
 *   predict_proba  one probability per class, in input_schema.label.classes
 *                  order (binary: [P(class 0), P(class 1)]);
 *   predict_batch  predict for each object of a JSON array, in one call;
 *   predict_table  predict every row of a table or query, streamed through
 *                  a portal in chunks of up to PREDICT_CHUNK_ROWS rows.  Two
 *                  chunks alternate: while XGBoost predicts a full chunk on
 *                  a helper thread (xgb.c's XgbPredictStart), the backend
 *                  reads and encodes the next one, then emits the first.
 *                  Ids are numbers printed at emission, or the output of
 *                  the id column's type.  The last, partial chunk predicts
 *                  on the backend's thread, so a small source never starts
 *                  a helper.
 *
 * Threads: a call of fewer than PREDICT_PARALLEL_MIN_ROWS rows runs on one
 * thread (OpenMP start-up costs far more than one row); larger batches use
 * mlops.predict_threads.
 *
 * Every call is timed and counted in mlops.prediction_stats, failures
 * included (a PG_CATCH records the error and rethrows).
 */
#include "postgres.h"

#include <math.h>

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/portal.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "serve/serve.h"
#include "xgb/xgb.h"

PG_FUNCTION_INFO_V1(mlops_predict_float8);
PG_FUNCTION_INFO_V1(mlops_predict_float4);
PG_FUNCTION_INFO_V1(mlops_predict_jsonb);
PG_FUNCTION_INFO_V1(mlops_predict_proba_float8);
PG_FUNCTION_INFO_V1(mlops_predict_proba_jsonb);
PG_FUNCTION_INFO_V1(mlops_predict_batch);
PG_FUNCTION_INFO_V1(mlops_predict_table);

/* Batches this small predict on one thread */
#define PREDICT_PARALLEL_MIN_ROWS 1024
/* Rows of a predict_table chunk, fewer when a chunk would exceed the floats */
#define PREDICT_CHUNK_ROWS 16384
#define PREDICT_CHUNK_FLOATS (4 * 1024 * 1024)

/* How a prediction call received its features */
typedef enum InputKind
{
	INPUT_FLOAT8_ARRAY,
	INPUT_FLOAT4_ARRAY,
	INPUT_JSONB
} InputKind;

static float *row_buffer = NULL;
static int	row_buffer_len = 0;

static float *RowBuffer(int n);
static void EncodeArray(CachedModel *m, Datum arr, Oid elemtype, float *row);
static void EncodeJsonObject(CachedModel *m, JsonbContainer *obj, float *row,
							 StringInfo errors, const char *prefix);
static void RaiseFeatureErrors(CachedModel *m, StringInfo errors);
static const float *PredictRows(CachedModel *m, const float *x, int64 nrows);
static double OutputToPrediction(CachedModel *m, const float *out, int64 i);
static void OutputToProba(CachedModel *m, const float *out, int64 i, double *proba);
static double ElapsedMs(instr_time start);
static Datum PredictOne(FunctionCallInfo fcinfo, InputKind kind, bool proba);

/* mlops_predict_float8 implements mlops.predict(model text, features float8[]). */
Datum
mlops_predict_float8(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT8_ARRAY, false);
}

/* mlops_predict_float4 implements mlops.predict(model text, features real[]). */
Datum
mlops_predict_float4(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT4_ARRAY, false);
}

/* mlops_predict_jsonb implements mlops.predict(model text, features jsonb). */
Datum
mlops_predict_jsonb(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, false);
}

/* mlops_predict_proba_float8 implements mlops.predict_proba(model text, float8[]). */
Datum
mlops_predict_proba_float8(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT8_ARRAY, true);
}

/* mlops_predict_proba_jsonb implements mlops.predict_proba(model text, jsonb). */
Datum
mlops_predict_proba_jsonb(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, true);
}

/*
 * PredictOne predicts one row given as an array or a JSON object and
 * returns the prediction, or the class probabilities when proba.
 */
static Datum
PredictOne(FunctionCallInfo fcinfo, InputKind kind, bool proba)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CachedModel *m;
	instr_time	start;
	Datum		result = (Datum) 0;

	INSTR_TIME_SET_CURRENT(start);
	m = ModelCacheGet(ref);
	PG_TRY();
	{
		float	   *row = RowBuffer(m->nfeatures);
		const float *out;

		if (proba && (m->output == OUTPUT_VALUE || m->output == OUTPUT_CLASS))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("model \"%s\" version %d does not output class probabilities",
							m->name, m->version),
					 errdetail("Its objective is %s.", m->objective),
					 errhint("Use mlops.predict.")));
		if (kind == INPUT_JSONB)
		{
			Jsonb	   *obj = PG_GETARG_JSONB_P(1);
			StringInfoData errors;

			if (!JB_ROOT_IS_OBJECT(obj) || JB_ROOT_IS_SCALAR(obj))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("features must be a JSON object"),
						 errhint("For example '{\"age\": 35, \"income\": 50000}'.")));
			initStringInfo(&errors);
			EncodeJsonObject(m, &obj->root, row, &errors, "");
			RaiseFeatureErrors(m, &errors);
		}
		else
			EncodeArray(m, PG_GETARG_DATUM(1),
						kind == INPUT_FLOAT8_ARRAY ? FLOAT8OID : FLOAT4OID, row);

		out = PredictRows(m, row, 1);
		if (proba)
		{
			Datum	   *elems = palloc(sizeof(Datum) * m->nclasses);
			double	   *p = palloc(sizeof(double) * m->nclasses);

			OutputToProba(m, out, 0, p);
			for (int c = 0; c < m->nclasses; c++)
				elems[c] = Float8GetDatum(p[c]);
			result = PointerGetDatum(construct_array(elems, m->nclasses, FLOAT8OID,
													 sizeof(float8), FLOAT8PASSBYVAL,
													 TYPALIGN_DOUBLE));
		}
		else
			result = Float8GetDatum(OutputToPrediction(m, out, 0));
	}
	PG_CATCH();
	{
		PredictionStatsRecord(&m->stats, m->name, m->version, 1, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	PredictionStatsRecord(&m->stats, m->name, m->version, 1, ElapsedMs(start), false);
	return result;
}

/*
 * mlops_predict_batch implements mlops.predict_batch(model text, instances
 * jsonb): one prediction per object of the array, predicted in one call.
 */
Datum
mlops_predict_batch(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *instances = PG_GETARG_JSONB_P(1);
	CachedModel *m;
	instr_time	start;
	volatile int n = 0;
	Datum		result = (Datum) 0;

	INSTR_TIME_SET_CURRENT(start);
	m = ModelCacheGet(ref);
	PG_TRY();
	{
		float	   *x;
		const float *out;
		Datum	   *elems;
		StringInfoData errors;

		if (!JB_ROOT_IS_ARRAY(instances) || JB_ROOT_IS_SCALAR(instances))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("instances must be a JSON array of feature objects"),
					 errhint("For example '[{\"age\": 35}, {\"age\": 52}]'.")));
		n = JsonContainerSize(&instances->root);
		x = palloc_extended(sizeof(float) * Max((Size) n * m->nfeatures, 1), MCXT_ALLOC_HUGE);
		initStringInfo(&errors);
		for (int i = 0; i < n; i++)
		{
			JsonbValue *v = getIthJsonbValueFromContainer(&instances->root, i);

			if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			{
				appendStringInfo(&errors, "%sinstance %d is not an object",
								 errors.len > 0 ? "; " : "", i);
				continue;
			}
			EncodeJsonObject(m, v->val.binary.data, x + (Size) i * m->nfeatures, &errors,
							 psprintf("instance %d: ", i));
		}
		RaiseFeatureErrors(m, &errors);
		elems = palloc(sizeof(Datum) * Max(n, 1));
		if (n > 0)
		{
			out = PredictRows(m, x, n);
			for (int i = 0; i < n; i++)
				elems[i] = Float8GetDatum(OutputToPrediction(m, out, i));
		}
		result = PointerGetDatum(construct_array(elems, n, FLOAT8OID, sizeof(float8),
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	PG_CATCH();
	{
		PredictionStatsRecord(&m->stats, m->name, m->version, n, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	PredictionStatsRecord(&m->stats, m->name, m->version, n, ElapsedMs(start), false);
	return result;
}

/*
 * How predict_table makes the text ids of its result: row numbers and
 * integer id columns are kept as numbers and printed straight into one
 * reused text buffer when the chunk is emitted (no allocation per row);
 * other id types go through their output function.
 */
typedef enum TableIdKind
{
	TABLE_ID_ROWNUM,
	TABLE_ID_INTEGER,
	TABLE_ID_OUTPUT
} TableIdKind;

/* One chunk of predict_table rows: features, ids, then predictions */
typedef struct TableChunk
{
	float	   *x;				/* chunk_rows * nfeatures */
	float	   *out;			/* chunk_rows * outputs per row */
	char	  **ids;			/* TABLE_ID_OUTPUT: text of each id, NULL for null */
	int64	   *idnums;			/* TABLE_ID_INTEGER: value of each id */
	bool	   *idnulls;		/* TABLE_ID_INTEGER: null ids */
	int			nrows;
	int64		first;			/* row number of its first row, from 0 */
	MemoryContext cxt;			/* TABLE_ID_OUTPUT ids */
} TableChunk;

/* State of mlops.predict_table while rows stream in */
typedef struct TableState
{
	CachedModel *m;
	FeatureColumn *cols;		/* model features bound to source columns */
	int			id_att;			/* -1: row numbers */
	TableIdKind id_kind;
	FmgrInfo	id_outfunc;
	Oid			id_type;		/* base type of the id column */
	int			chunk_rows;
	int			per_row;		/* outputs per row */
	TableChunk	chunks[2];		/* one filling while the other predicts */
	int			filling;		/* index of the chunk rows go to */
	bool		predicting;		/* the other chunk is on the helper thread */
	XgbPredictJob job;
	int64		nrows;
	Tuplestorestate *store;
	TupleDesc	desc;
} TableState;

static void TableRow(TupleTableSlot *slot, void *arg);
static void TableDispatch(TableState *st);
static void TableWait(TableState *st);
static void TableEmit(TableState *st, TableChunk *c);

/*
 * mlops_predict_table implements mlops.predict_table(model text, source
 * text, id_column text): (id, prediction) for every row of a table, view or
 * query, read as the calling user.
 */
Datum
mlops_predict_table(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref;
	char	   *source;
	char	   *id_column;
	CachedModel *m;
	instr_time	start;
	TableState	st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and source must not be null")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	id_column = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	InitMaterializedSRF(fcinfo, 0);
	INSTR_TIME_SET_CURRENT(start);
	m = ModelCacheGet(ref);
	memset(&st, 0, sizeof(st));
	st.m = m;
	st.store = rsinfo->setResult;
	st.desc = rsinfo->setDesc;
	ModelCachePin(m);
	PG_TRY();
	{
		char	   *query;
		Portal		portal;
		TupleDesc	tupdesc;
		StringInfoData missing;
		StringInfoData mistyped;
		MemoryContext cxt = CurrentMemoryContext;

		if (m->schema == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" version %d has no input schema", m->name, m->version),
					 errdetail("mlops.predict_table matches source columns to the feature names of the input schema."),
					 errhint("Use mlops.predict with a float8[] of the features in training order.")));
		query = DatasetSourceQuery(source);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		portal = SourceOpen(query);
		MemoryContextSwitchTo(cxt);
		tupdesc = portal->tupDesc;

		/* bind every model feature to the source column of the same name */
		st.cols = palloc0(sizeof(FeatureColumn) * Max(m->nfeatures, 1));
		initStringInfo(&missing);
		initStringInfo(&mistyped);
		for (int j = 0; j < m->nfeatures; j++)
		{
			FeatureColumn *want = &m->schema->features[j];
			FeatureColumn *col = &st.cols[j];
			bool		supported;
			FeatureKind kind;

			*col = *want;
			col->attno = DatasetFindColumn(tupdesc, want->name);
			if (col->attno < 0)
			{
				appendStringInfo(&missing, "%s\"%s\"", missing.len > 0 ? ", " : "", want->name);
				continue;
			}
			col->typid = getBaseType(TupleDescAttr(tupdesc, col->attno)->atttypid);
			kind = FeatureKindFromType(col->typid, &supported);
			ColumnOutputFunction(col->typid, &col->outfunc);
			if (!supported ||
				(want->kind != FEATURE_CATEGORICAL && kind == FEATURE_CATEGORICAL))
				appendStringInfo(&mistyped, "%s\"%s\" is %s but the model expects %s",
								 mistyped.len > 0 ? ", " : "", want->name,
								 format_type_be(col->typid), FeatureKindName(want->kind));
		}
		if (missing.len > 0 || mistyped.len > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("source does not match the features of model \"%s\" version %d",
							m->name, m->version),
					 errdetail("%s%s%s%s",
							   missing.len > 0 ? "Missing columns: " : "", missing.data,
							   missing.len > 0 && mistyped.len > 0 ? ". Wrong types: " :
							   (mistyped.len > 0 ? "Wrong types: " : ""), mistyped.data),
					 errhint("Rename or cast the columns in a source query.")));

		st.id_att = -1;
		if (id_column != NULL)
		{
			st.id_att = DatasetFindColumn(tupdesc, id_column);
			if (st.id_att < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("id column \"%s\" does not exist in source", id_column)));
			st.id_type = getBaseType(TupleDescAttr(tupdesc, st.id_att)->atttypid);
			if (st.id_type == INT2OID || st.id_type == INT4OID || st.id_type == INT8OID)
				st.id_kind = TABLE_ID_INTEGER;
			else
			{
				st.id_kind = TABLE_ID_OUTPUT;
				ColumnOutputFunction(TupleDescAttr(tupdesc, st.id_att)->atttypid,
									 &st.id_outfunc);
			}
		}
		st.chunk_rows = Min(PREDICT_CHUNK_ROWS,
							Max(PREDICT_PARALLEL_MIN_ROWS, PREDICT_CHUNK_FLOATS / Max(m->nfeatures, 1)));
		st.per_row = (m->output == OUTPUT_PROBS) ? m->nclasses : 1;
		for (int k = 0; k < 2; k++)
		{
			TableChunk *c = &st.chunks[k];

			c->x = palloc_extended(sizeof(float) * st.chunk_rows * Max(m->nfeatures, 1),
								   MCXT_ALLOC_HUGE);
			c->out = palloc_extended(sizeof(float) * st.chunk_rows * st.per_row,
									 MCXT_ALLOC_HUGE);
			c->ids = palloc(sizeof(char *) * st.chunk_rows);
			c->idnums = palloc(sizeof(int64) * st.chunk_rows);
			c->idnulls = palloc(sizeof(bool) * st.chunk_rows);
			c->cxt = AllocSetContextCreate(cxt, "mlops predict_table chunk",
										   ALLOCSET_DEFAULT_SIZES);
		}

		SourceScan(portal, TableRow, &st);
		/* the last, partial chunk predicts here after the one in flight */
		TableWait(&st);
		if (st.chunks[st.filling].nrows > 0)
		{
			TableChunk *c = &st.chunks[st.filling];
			const float *out = PredictRows(m, c->x, c->nrows);

			memcpy(c->out, out, sizeof(float) * c->nrows * st.per_row);
			TableEmit(&st, c);
		}
		SPI_cursor_close(portal);
		SPI_finish();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		/* the helper thread may still use the chunk and the booster */
		XgbJoinBackground();
		ModelCacheUnpin(m);
		PredictionStatsRecord(&m->stats, m->name, m->version, st.nrows, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ModelCacheUnpin(m);
	PredictionStatsRecord(&m->stats, m->name, m->version, st.nrows, ElapsedMs(start), false);
	return (Datum) 0;
}

/*
 * TableRow encodes one source row into the filling chunk.  real columns,
 * the common case of a scored table, are converted inline; every other
 * type goes through EncodeFeatureDatum like the training matrix.
 */
static void
TableRow(TupleTableSlot *slot, void *arg)
{
	TableState *st = (TableState *) arg;
	TableChunk *c = &st->chunks[st->filling];
	int			nf = st->m->nfeatures;
	float	   *row = c->x + (Size) c->nrows * nf;
	Datum	   *values = slot->tts_values;
	bool	   *isnull = slot->tts_isnull;

	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &st->cols[j];
		int			att = col->attno;

		if (col->typid == FLOAT4OID)
			row[j] = isnull[att] ? NAN : DatumGetFloat4(values[att]);
		else
			row[j] = EncodeFeatureDatum(col, values[att], isnull[att]);
	}
	if (c->nrows == 0)
		c->first = st->nrows;
	st->nrows++;
	switch (st->id_kind)
	{
		case TABLE_ID_ROWNUM:
			break;
		case TABLE_ID_INTEGER:
			c->idnulls[c->nrows] = isnull[st->id_att];
			if (!isnull[st->id_att])
				c->idnums[c->nrows] =
					st->id_type == INT8OID ? DatumGetInt64(values[st->id_att]) :
					st->id_type == INT4OID ? DatumGetInt32(values[st->id_att]) :
					DatumGetInt16(values[st->id_att]);
			break;
		case TABLE_ID_OUTPUT:
			if (isnull[st->id_att])
				c->ids[c->nrows] = NULL;
			else
			{
				MemoryContext old = MemoryContextSwitchTo(c->cxt);

				c->ids[c->nrows] = OutputFunctionCall(&st->id_outfunc, values[st->id_att]);
				MemoryContextSwitchTo(old);
			}
			break;
	}
	c->nrows++;
	if (c->nrows == st->chunk_rows)
		TableDispatch(st);
}

/*
 * TableDispatch hands the full filling chunk to the helper thread, after
 * emitting the chunk it predicted before, and fills the other one next: the
 * backend reads and encodes rows while XGBoost predicts the previous ones.
 */
static void
TableDispatch(TableState *st)
{
	TableChunk *c = &st->chunks[st->filling];

	TableWait(st);
	ModelCacheSetThreads(st->m, mlops_predict_threads);
	XgbPredictStart(&st->job, st->m->booster, c->x, c->nrows, st->m->nfeatures,
					c->out, (bst_ulong) st->chunk_rows * st->per_row);
	st->predicting = true;
	st->filling = 1 - st->filling;
}

/*
 * TableWait waits for the chunk on the helper thread, if any, and emits
 * its rows.
 */
static void
TableWait(TableState *st)
{
	TableChunk *c = &st->chunks[1 - st->filling];
	bst_ulong	len;

	if (!st->predicting)
		return;
	st->predicting = false;
	len = XgbPredictFinish(&st->job);
	if (len != (bst_ulong) c->nrows * st->per_row)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("model \"%s\" version %d returned %llu outputs for %d rows",
						st->m->name, st->m->version, (unsigned long long) len, c->nrows)));
	TableEmit(st, c);
}

/*
 * TableEmit adds the (id, prediction) tuples of a predicted chunk to the
 * result and empties the chunk.  Numeric ids are printed into one text
 * buffer that the tuplestore copies.
 */
static void
TableEmit(TableState *st, TableChunk *c)
{
	union
	{
		text		hdr;
		char		bytes[VARHDRSZ + MAXINT8LEN + 1];
		int32		align;
	}			idbuf;

	for (int i = 0; i < c->nrows; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (st->id_kind == TABLE_ID_OUTPUT)
		{
			nulls[0] = (c->ids[i] == NULL);
			values[0] = nulls[0] ? (Datum) 0 : CStringGetTextDatum(c->ids[i]);
		}
		else
		{
			nulls[0] = (st->id_kind == TABLE_ID_INTEGER && c->idnulls[i]);
			if (!nulls[0])
			{
				int64		id = st->id_kind == TABLE_ID_INTEGER ? c->idnums[i] : c->first + i + 1;

				SET_VARSIZE(&idbuf.hdr, VARHDRSZ + pg_lltoa(id, VARDATA(&idbuf.hdr)));
			}
			values[0] = PointerGetDatum(&idbuf.hdr);
		}
		values[1] = Float8GetDatum(OutputToPrediction(st->m, c->out, i));
		tuplestore_putvalues(st->store, st->desc, values, nulls);
		if (st->id_kind == TABLE_ID_OUTPUT && !nulls[0])
			pfree(DatumGetPointer(values[0]));
	}
	c->nrows = 0;
	MemoryContextReset(c->cxt);
}

/* ---------------------------------------------------------------------
 * Encoding inputs
 * ---------------------------------------------------------------------
 */

/* RowBuffer returns a per-backend buffer of at least n floats. */
static float *
RowBuffer(int n)
{
	if (n > row_buffer_len)
	{
		row_buffer = MemoryContextAlloc(TopMemoryContext, sizeof(float) * n);
		row_buffer_len = n;
	}
	return row_buffer;
}

/*
 * EncodeArray copies a float8[] or real[] of exactly the model's feature
 * count into row; NULL elements are missing values, categorical features
 * are given as category codes.
 */
static void
EncodeArray(CachedModel *m, Datum arrdatum, Oid elemtype, float *row)
{
	ArrayType  *arr = DatumGetArrayTypeP(arrdatum);
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	bits8	   *nulls = ARR_NULLBITMAP(arr);
	Size		offset = ARR_HASNULL(arr) ? (Size) arr->dataoffset :
		ARR_OVERHEAD_NONULLS(ARR_NDIM(arr));
	char	   *data = (char *) arr + offset;	/* ARR_DATA_PTR, sign-clean */

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array")));
	if (n != m->nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" version %d expects %d features, got %d",
						m->name, m->version, m->nfeatures, n),
				 m->schema ? errhint("The features are, in order: %s.",
									 FeatureNameList(m->schema)) : 0));
	for (int i = 0; i < n; i++)
	{
		if (nulls && !(nulls[i / 8] & (1 << (i % 8))))
		{
			row[i] = NAN;
			continue;
		}
		if (elemtype == FLOAT8OID)
		{
			row[i] = (float) *(const double *) data;
			data += sizeof(double);
		}
		else
		{
			row[i] = *(const float *) data;
			data += sizeof(float);
		}
	}
}

/*
 * EncodeJsonObject encodes a {"feature": value} object into row: numbers
 * (and booleans) for numeric features, strings for categorical ones, null
 * for missing.  Every problem (unknown, missing or mistyped feature) is
 * appended to errors, prefixed with prefix, so one error can list them all.
 */
static void
EncodeJsonObject(CachedModel *m, JsonbContainer *obj, float *row, StringInfo errors,
				 const char *prefix)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			feature = -1;
	bool	   *seen;
	char	   *key = NULL;

	if (m->schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no input schema", m->name, m->version),
				 errdetail("Named features need the feature names of the input schema."),
				 errhint("Pass the features as a float8[] in training order.")));
	seen = palloc0(sizeof(bool) * Max(m->nfeatures, 1));
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		FeatureColumn *col;
		const char *problem = NULL;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			feature = -1;
			for (int j = 0; j < m->nfeatures; j++)
				if (strcmp(m->schema->features[j].name, key) == 0)
					feature = j;
			if (feature < 0)
				appendStringInfo(errors, "%s%sunknown feature \"%s\"",
								 errors->len > 0 ? "; " : "", prefix, key);
			continue;
		}
		if (tok != WJB_VALUE || feature < 0)
			continue;
		col = &m->schema->features[feature];
		seen[feature] = true;
		if (v.type == jbvNull)
			row[feature] = NAN;
		else if (col->kind == FEATURE_CATEGORICAL)
		{
			if (v.type == jbvString)
			{
				char	   *s = pnstrdup(v.val.string.val, v.val.string.len);
				int			code = VocabularyLookup(col->vocab, s, false);

				row[feature] = code < 0 ? NAN : (float) code;
			}
			else
				problem = "a string";
		}
		else if (v.type == jbvNumeric)
			row[feature] = (float) DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																	 NumericGetDatum(v.val.numeric)));
		else if (v.type == jbvBool)
			row[feature] = v.val.boolean ? 1.0f : 0.0f;
		else
			problem = col->kind == FEATURE_BOOLEAN ? "a boolean" : "a number";
		if (problem != NULL)
			appendStringInfo(errors, "%s%sfeature \"%s\" must be %s, not %s",
							 errors->len > 0 ? "; " : "", prefix, key, problem,
							 v.type == jbvString ? "a string" :
							 v.type == jbvBool ? "a boolean" :
							 v.type == jbvNumeric ? "a number" : "an array or object");
	}
	for (int j = 0; j < m->nfeatures; j++)
		if (!seen[j])
			appendStringInfo(errors, "%s%smissing feature \"%s\"",
							 errors->len > 0 ? "; " : "", prefix, m->schema->features[j].name);
}

/* RaiseFeatureErrors raises one ERROR listing every feature problem found. */
static void
RaiseFeatureErrors(CachedModel *m, StringInfo errors)
{
	if (errors->len == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid features for model \"%s\" version %d", m->name, m->version),
			 errdetail("Problems: %s.", errors->data),
			 errhint("The features are: %s. Use null for a missing value.",
					 FeatureNameList(m->schema))));
}

/* ---------------------------------------------------------------------
 * Predicting and reading outputs
 * ---------------------------------------------------------------------
 */

/*
 * PredictRows runs the booster on nrows rows, on one thread for small
 * batches and mlops.predict_threads for larger ones.
 */
static const float *
PredictRows(CachedModel *m, const float *x, int64 nrows)
{
	bst_ulong	len;
	const float *out;
	int64		per_row = (m->output == OUTPUT_PROBS) ? m->nclasses : 1;

	ModelCacheSetThreads(m, nrows < PREDICT_PARALLEL_MIN_ROWS ? 1 : mlops_predict_threads);
	out = XgbPredictDense(m->booster, x, nrows, m->nfeatures, &len);
	if (len != (bst_ulong) (nrows * per_row))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("model \"%s\" version %d returned %llu outputs for " INT64_FORMAT " rows",
						m->name, m->version, (unsigned long long) len, nrows)));
	return out;
}

/*
 * OutputToPrediction returns what mlops.predict returns for row i: the
 * value of a regression, the predicted class code of a classification.
 */
static double
OutputToPrediction(CachedModel *m, const float *out, int64 i)
{
	switch (m->output)
	{
		case OUTPUT_VALUE:
		case OUTPUT_CLASS:
			return out[i];
		case OUTPUT_PROB1:
			return out[i] > 0.5f ? 1.0 : 0.0;
		case OUTPUT_MARGIN1:
			return out[i] > 0.0f ? 1.0 : 0.0;
		case OUTPUT_PROBS:
			{
				const float *p = out + i * m->nclasses;
				int			best = 0;

				for (int c = 1; c < m->nclasses; c++)
					if (p[c] > p[best])
						best = c;
				return best;
			}
	}
	return NAN;
}

/* OutputToProba fills the class probabilities of row i. */
static void
OutputToProba(CachedModel *m, const float *out, int64 i, double *proba)
{
	if (m->output == OUTPUT_PROBS)
	{
		for (int c = 0; c < m->nclasses; c++)
			proba[c] = out[i * m->nclasses + c];
		return;
	}
	proba[1] = (m->output == OUTPUT_MARGIN1) ? 1.0 / (1.0 + exp(-(double) out[i])) : out[i];
	proba[0] = 1.0 - proba[1];
}

/* ElapsedMs returns the milliseconds since start. */
static double
ElapsedMs(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}
