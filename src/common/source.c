/*
 * source.c
 *		The one source resolver: every mlops function that reads a user's
 *		rows (train, predict_table, set_drift_reference, detect_drift) takes
 *		a "source" and turns it into a query here.
 *
 * Design
 * ------
 * A source is the name of a table, view, materialized view or foreign table
 * (optionally schema-qualified, quoted as in SQL), or one query: a SELECT,
 * VALUES, TABLE or WITH ... SELECT statement.  Resolution has two phases.
 *
 * 1. The text alone (ClassifySource, no catalog access; SourceCheckText and
 *    mlops._check_source run only this phase, for sources stored to be read
 *    later).  An empty text is refused.  Something that looks like a file or
 *    a URL (s3://..., /data/x.csv, x.parquet) is refused with a hint on how
 *    to load files.  A text that is a qualified name is a relation name.
 *    Anything else goes through PostgreSQL's raw parser: a syntax error is
 *    reported against the source (not against the statement that called
 *    us), more than one statement is refused before anything reaches SPI,
 *    and the statement must be a query that only reads: no SELECT INTO, no
 *    FOR UPDATE/SHARE, no INSERT/UPDATE/DELETE in its WITH clause.
 *
 * 2. The catalog, as the caller (SourceResolve).  A relation name must
 *    exist, be something rows can be read from, and be readable by the
 *    current user (SELECT on the table, or on every column); it becomes
 *    SELECT * FROM schema.relation.  A query is checked by the planner when
 *    it is prepared (SourceOpen), as the same user, so its privileges and
 *    row-level security apply there.
 *
 * Privilege rule: a source is always read with the rights of the role that
 * called the mlops function, never with the extension owner's.  The read
 * runs in SPI in read-only mode (SourceOpen), and SourceResolve refuses to
 * run when the current user is the extension owner acting on behalf of
 * another role (inside MlopsBeginOwner or an owner's SECURITY DEFINER
 * function), so a caller can never read what they could not SELECT.
 *
 * Messages: one set for every caller.  42P01 for a relation that does not
 * exist, 42601 for a syntax error or several statements, 22023 for other
 * invalid sources, 42501 for missing privileges.  A source quoted in a
 * message is cut to SOURCE_ECHO_MAX bytes (SourceEcho), with its white
 * space folded, so a megabyte of SQL never ends up in a log line.
 *
 * SQL code that reads a source itself (the pipelines) can get the resolved
 * query from mlops._source_query, as its caller.
 *
 * Reading: SourceOpen plans the query and opens a cursor; SourceScan runs
 * it once with a DestReceiver that hands every slot to a callback in a
 * per-row memory context, so rows are never copied into SPI tuple tables.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "common/keywords.h"
#include "common/kwlookup.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scansup.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"

#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_check_source);
PG_FUNCTION_INFO_V1(mlops_source_query);

/* the hint of every message about the form of a source */
#define SOURCE_FORM_HINT \
	"Pass a table or view name such as public.events, or one query such as SELECT age, plan FROM events."

/* what the text of a source is */
typedef enum SourceShape
{
	SOURCE_SHAPE_NAME,
	SOURCE_SHAPE_QUERY
} SourceShape;

/* A DestReceiver that hands every slot to a callback */
typedef struct CallbackReceiver
{
	DestReceiver pub;
	SourceRowCallback callback;
	void	   *arg;
	bool		deform;			/* slot_getallattrs before the callback */
	MemoryContext rowcxt;
} CallbackReceiver;

static SourceShape ClassifySource(const char *source, List **names, char **query,
								  bool *filelike);
static bool ParseQualifiedName(const char *s, List **names);
static bool LooksLikeLocation(const char *s);
static bool HasFileExtension(const char *s);
static char *ParseSingleQuery(const char *source);
static List *RawParseSource(const char *source);
static void CheckReadOnlySelect(SelectStmt *stmt);
static void RefuseWriting(const char *detail) pg_attribute_noreturn();
static void RefuseEmpty(void) pg_attribute_noreturn();
static void RefuseOutsideDatabase(const char *source) pg_attribute_noreturn();
static void CheckRelation(Oid relid, const char *source);
static void RequireCallerRights(void);
static uint64 RunScan(Portal portal, SourceRowCallback callback, void *arg, bool deform, long count);
static bool CallbackReceiveSlot(TupleTableSlot *slot, DestReceiver *self);
static void CallbackStartup(DestReceiver *self, int operation, TupleDesc typeinfo);
static void CallbackShutdown(DestReceiver *self);
static void CallbackDestroy(DestReceiver *self);

/* ---------------------------------------------------------------------
 * Resolving
 * ---------------------------------------------------------------------
 */

/*
 * SourceResolve checks a source as the calling user and fills spec with
 * the relation it names (if any) and the query that reads its rows.  Every
 * unusable source raises an ERROR.
 */
void
SourceResolve(const char *source, SourceSpec *spec)
{
	List	   *names = NIL;
	char	   *query = NULL;
	bool		filelike = false;
	Oid			relid;

	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be null"),
				 errhint(SOURCE_FORM_HINT)));
	RequireCallerRights();
	spec->text = source;
	spec->relid = InvalidOid;
	if (ClassifySource(source, &names, &query, &filelike) == SOURCE_SHAPE_QUERY)
	{
		spec->query = query;
		return;
	}

	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	if (!OidIsValid(relid))
	{
		if (filelike)
			RefuseOutsideDatabase(source);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" does not exist", SourceEcho(NameListToString(names))),
				 errhint("A source is an existing table or view (a name without a schema is looked up in search_path), or a query.")));
	}
	CheckRelation(relid, source);
	spec->relid = relid;
	spec->query = psprintf("SELECT * FROM %s",
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													  get_rel_name(relid)));
}

/*
 * SourceQuery returns the query that reads a source's rows (see
 * SourceResolve).
 */
char *
SourceQuery(const char *source)
{
	SourceSpec	spec;

	SourceResolve(source, &spec);
	return spec.query;
}

/*
 * SourceCheckText runs the checks that need only the text of a source, for
 * a source that is stored now and read later by whoever reads it.
 */
void
SourceCheckText(const char *source)
{
	List	   *names = NIL;
	char	   *query = NULL;
	bool		filelike = false;

	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be null"),
				 errhint(SOURCE_FORM_HINT)));
	(void) ClassifySource(source, &names, &query, &filelike);
}

/*
 * mlops_check_source implements mlops._check_source(source text): the
 * text-only checks of SourceCheckText, for SQL code that stores a source.
 */
Datum
mlops_check_source(PG_FUNCTION_ARGS)
{
	SourceCheckText(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * mlops_source_query implements mlops._source_query(source text): the query
 * SourceResolve makes of a source, resolved as the caller, for SQL code
 * that reads a source itself.  A query that ends in a line comment gets a
 * final newline, so the text can be wrapped in parentheses.
 */
Datum
mlops_source_query(PG_FUNCTION_ARGS)
{
	char	   *query = SourceQuery(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (strstr(query, "--") != NULL)
		query = psprintf("%s\n", query);
	PG_RETURN_TEXT_P(cstring_to_text(query));
}

/*
 * ClassifySource decides from its text alone whether a source is a relation
 * name (*names, and *filelike when it also reads like a file name) or a
 * query (*query, the text of its single statement), refusing anything else.
 */
static SourceShape
ClassifySource(const char *source, List **names, char **query, bool *filelike)
{
	const char *p = source;
	size_t		len;
	char	   *trimmed;

	while (*p != '\0' && scanner_isspace(*p))
		p++;
	len = strlen(p);
	while (len > 0 && scanner_isspace(p[len - 1]))
		len--;
	if (len == 0)
		RefuseEmpty();
	trimmed = pnstrdup(p, len);

	if (LooksLikeLocation(trimmed))
		RefuseOutsideDatabase(source);
	if (ParseQualifiedName(trimmed, names))
	{
		*filelike = HasFileExtension(trimmed);
		return SOURCE_SHAPE_NAME;
	}
	/* a path such as data/train.csv: one word that ends like a file */
	if (HasFileExtension(trimmed) && strpbrk(trimmed, " \t\r\n\f\v") == NULL)
		RefuseOutsideDatabase(source);
	*query = ParseSingleQuery(source);
	return SOURCE_SHAPE_QUERY;
}

/*
 * ParseQualifiedName parses s (trimmed) as a relation name of one to three
 * dotted parts, each an identifier as SQL writes it (unquoted ones are
 * folded to lower case; the first may not be a reserved word), with
 * optional white space around the dots.  It returns false,
 * leaving *names alone, when s is not such a name.
 */
static bool
ParseQualifiedName(const char *s, List **names)
{
	List	   *result = NIL;
	const char *p = s;

	for (;;)
	{
		char	   *part;

		if (*p == '"')
		{
			StringInfoData buf;

			initStringInfo(&buf);
			for (p++;; p++)
			{
				if (*p == '\0')
					return false;
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				appendStringInfoChar(&buf, *p);
			}
			p++;
			if (buf.len == 0)
				return false;
			truncate_identifier(buf.data, buf.len, false);
			part = buf.data;
		}
		else
		{
			const char *start = p;
			int			kw;

			if (!(isalpha((unsigned char) *p) || *p == '_' || IS_HIGHBIT_SET(*p)))
				return false;
			while (isalnum((unsigned char) *p) || *p == '_' || *p == '$' || IS_HIGHBIT_SET(*p))
				p++;
			part = downcase_truncate_identifier(start, p - start, false);
			kw = ScanKeywordLookup(part, &ScanKeywords);
			if (result == NIL && kw >= 0 &&
				(ScanKeywordCategories[kw] == RESERVED_KEYWORD ||
				 ScanKeywordCategories[kw] == TYPE_FUNC_NAME_KEYWORD))
				return false;
		}
		result = lappend(result, makeString(part));
		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '.')
			return false;
		p++;
		while (scanner_isspace(*p))
			p++;
	}
	if (list_length(result) > 3)
		return false;
	*names = result;
	return true;
}

/*
 * LooksLikeLocation reports whether s is a URL (scheme://) or a file path
 * (/..., ./..., ../..., ~/..., C:\...), which no table name or query is.
 */
static bool
LooksLikeLocation(const char *s)
{
	const char *p = s;

	if (isalpha((unsigned char) *p))
	{
		while (isalnum((unsigned char) *p) || *p == '+' || *p == '-' || *p == '.')
			p++;
		if (strncmp(p, "://", 3) == 0)
			return true;
	}
	if (s[0] == '/' && s[1] != '*')
		return true;
	if (strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0 || strncmp(s, "~/", 2) == 0)
		return true;
	return isalpha((unsigned char) s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/');
}

/*
 * HasFileExtension reports whether s ends like a data file: .csv, .parquet,
 * .json and the like, optionally compressed (.gz ...).
 */
static bool
HasFileExtension(const char *s)
{
	static const char *const compressed[] = {".gz", ".bz2", ".xz", ".zst", ".zip"};
	static const char *const data[] = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson",
	".parquet", ".orc", ".avro", ".arrow", ".feather", ".xls", ".xlsx"};
	size_t		len = strlen(s);

	for (int i = 0; i < (int) lengthof(compressed); i++)
	{
		size_t		el = strlen(compressed[i]);

		if (len > el && pg_strcasecmp(s + len - el, compressed[i]) == 0)
		{
			len -= el;
			break;
		}
	}
	for (int i = 0; i < (int) lengthof(data); i++)
	{
		size_t		el = strlen(data[i]);

		if (len > el && pg_strncasecmp(s + len - el, data[i], el) == 0)
			return true;
	}
	return false;
}

/*
 * ParseSingleQuery parses source with PostgreSQL's raw parser and returns
 * the text of its one statement (without the surrounding white space and
 * semicolon), which must be a query that only reads.
 */
static char *
ParseSingleQuery(const char *source)
{
	List	   *stmts = RawParseSource(source);
	RawStmt    *raw;
	const char *start;
	size_t		len;

	if (stmts == NIL)
		RefuseEmpty();
	if (list_length(stmts) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("source must be a single query"),
				 errdetail("The source \"%s\" holds %d SQL statements.",
						   SourceEcho(source), list_length(stmts)),
				 errhint(SOURCE_FORM_HINT)));
	raw = linitial_node(RawStmt, stmts);
	if (!IsA(raw->stmt, SelectStmt))
		RefuseWriting(psprintf("Its statement is %s, not a query.", CreateCommandName(raw->stmt)));
	CheckReadOnlySelect((SelectStmt *) raw->stmt);
	start = source + raw->stmt_location;
	len = raw->stmt_len > 0 ? (size_t) raw->stmt_len : strlen(start);
	while (len > 0 && scanner_isspace(*start))
		start++, len--;
	while (len > 0 && scanner_isspace(start[len - 1]))
		len--;
	return pnstrdup(start, len);
}

/*
 * RawParseSource returns the raw parse trees of source; an error of the
 * parser is reported as a syntax error of the source, with the position
 * in the source (the caller's statement is a different text).
 */
static List *
RawParseSource(const char *source)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorContextCallback *context = error_context_stack;
	List	   *volatile stmts = NIL;

	/* no caller's context may move the error position out of the source */
	error_context_stack = NULL;
	PG_TRY();
	{
		stmts = raw_parser(source, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			category;

		error_context_stack = context;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (edata->elevel != ERROR ||
			(category != ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION &&
			 category != ERRCODE_DATA_EXCEPTION))
			PG_RE_THROW();
		FlushErrorState();
		if (edata->cursorpos > 0)
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("syntax error in source query"),
					 errdetail("At character %d of \"%s\": %s.", edata->cursorpos,
							   SourceEcho(source), SourceEcho(edata->message)),
					 errhint(SOURCE_FORM_HINT)));
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error in source query"),
				 errdetail("In \"%s\": %s.", SourceEcho(source), SourceEcho(edata->message)),
				 errhint(SOURCE_FORM_HINT)));
	}
	PG_END_TRY();
	error_context_stack = context;
	return stmts;
}

/*
 * CheckReadOnlySelect refuses a SELECT that writes or locks: SELECT INTO,
 * FOR UPDATE/SHARE, or a data-modifying statement in a WITH clause, in any
 * branch of a set operation.
 */
static void
CheckReadOnlySelect(SelectStmt *stmt)
{
	ListCell   *lc;

	if (stmt == NULL)
		return;
	check_stack_depth();
	if (stmt->intoClause != NULL)
		RefuseWriting("SELECT INTO creates a table.");
	if (stmt->lockingClause != NIL)
		RefuseWriting("FOR UPDATE and FOR SHARE lock rows.");
	if (stmt->withClause != NULL)
	{
		foreach(lc, stmt->withClause->ctes)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

			if (!IsA(cte->ctequery, SelectStmt))
				RefuseWriting(psprintf("Its WITH clause holds a data-modifying statement (%s).",
											   CreateCommandName(cte->ctequery)));
			CheckReadOnlySelect((SelectStmt *) cte->ctequery);
		}
	}
	CheckReadOnlySelect(stmt->larg);
	CheckReadOnlySelect(stmt->rarg);
}

/*
 * RefuseWriting raises the error for a statement that is not a read-only
 * query; detail says what it is.
 */
static void
RefuseWriting(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("source must be a query that only reads rows"),
			 errdetail("%s", detail),
			 errhint(SOURCE_FORM_HINT)));
}

/*
 * RefuseEmpty raises the error for a source with nothing in it.
 */
static void
RefuseEmpty(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("source must not be empty"),
			 errhint(SOURCE_FORM_HINT)));
}

/*
 * RefuseOutsideDatabase raises the error for a source that names a file or
 * a URL, saying how to bring such data into the database.
 */
static void
RefuseOutsideDatabase(const char *source)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("source \"%s\" is not a table, view or query", SourceEcho(source)),
			 errdetail("Sources are tables, views and queries inside the database; mlops reads no files or URLs."),
			 errhint("Load the file into a table first with COPY ... FROM (\\copy in psql), or read it through a foreign table with file_fdw, then pass the table's name.")));
}

/*
 * CheckRelation makes sure rows can be read from relation relid and that
 * the current user may read all of its columns.
 */
static void
CheckRelation(Oid relid, const char *source)
{
	char		relkind = get_rel_relkind(relid);
	Oid			userid = GetUserId();

	switch (relkind)
	{
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
		case RELKIND_VIEW:
		case RELKIND_MATVIEW:
		case RELKIND_FOREIGN_TABLE:
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("source \"%s\" is not a table, view or query", SourceEcho(source)),
					 errdetail("It names %s.",
							   relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX ? "an index" :
							   relkind == RELKIND_SEQUENCE ? "a sequence" :
							   relkind == RELKIND_COMPOSITE_TYPE ? "a composite type" :
							   "a relation that holds no rows of its own"),
					 errhint(SOURCE_FORM_HINT)));
	}
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(relkind), get_rel_name(relid));
}

/*
 * RequireCallerRights refuses to resolve a source while the current user is
 * the extension owner standing in for another role: sources are read with
 * the caller's rights only.
 */
static void
RequireCallerRights(void)
{
	Oid			userid = GetUserId();

	if (InLocalUserIdChange() && userid != GetOuterUserId() &&
		userid == MlopsExtensionOwner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a source is never read with the extension owner's rights"),
				 errdetail("The call runs as role \"%s\" on behalf of role \"%s\".",
						   GetUserNameFromId(userid, false),
						   GetUserNameFromId(GetOuterUserId(), false)),
				 errhint("Call the mlops function directly, not from a SECURITY DEFINER function owned by the extension owner.")));
}

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

/*
 * SourceEcho returns source fit for quoting in a message: runs of white
 * space folded to one blank, cut to SOURCE_ECHO_MAX bytes (at a character
 * boundary) with an ellipsis.
 */
char *
SourceEcho(const char *source)
{
	StringInfoData buf;
	const char *p = source;
	bool		blank = false;

	initStringInfo(&buf);
	while (*p != '\0' && scanner_isspace(*p))
		p++;
	for (; *p != '\0' && buf.len <= SOURCE_ECHO_MAX; p++)
	{
		if (scanner_isspace(*p))
		{
			blank = true;
			continue;
		}
		if (blank)
			appendStringInfoChar(&buf, ' ');
		blank = false;
		appendStringInfoChar(&buf, *p);
	}
	if (buf.len > SOURCE_ECHO_MAX || *p != '\0')
	{
		int			cut = pg_mbcliplen(buf.data, buf.len, Min(buf.len, SOURCE_ECHO_MAX));

		buf.data[cut] = '\0';
		buf.len = cut;
		appendStringInfoString(&buf, MlopsEllipsis());
	}
	return buf.data;
}

/*
 * SourceColumnsHint returns a hint that lists the columns of a source (the
 * first SOURCE_HINT_COLUMNS, then how many more there are).
 */
char *
SourceColumnsHint(TupleDesc tupdesc)
{
	MlopsList	columns;

	MlopsListInit(&columns, SOURCE_HINT_COLUMNS);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped)
			MlopsListAdd(&columns, "\"%s\"", NameStr(att->attname));
	}
	if (columns.total == 0)
		return pstrdup("The source has no columns.");
	return psprintf("The source's columns are %s.", MlopsListDone(&columns));
}

/* ---------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------
 */

/*
 * SourceOpen plans a source query (from SourceResolve) as the calling user
 * and opens it as a read-only cursor.  The caller must be connected to SPI;
 * the returned portal's tupDesc describes the rows.
 */
Portal
SourceOpen(const char *query)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not plan source query: %s",
						SPI_result_code_string(SPI_result))));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source query does not return rows"),
				 errhint(SOURCE_FORM_HINT)));
	return SPI_cursor_open(NULL, plan, NULL, NULL, true);
}

/*
 * SourceScan runs an open source cursor to the end, calling callback for
 * every row with a slot whose attributes are all deformed.  Each call runs in
 * a memory context that is reset before the next row.
 */
void
SourceScan(Portal portal, SourceRowCallback callback, void *arg)
{
	(void) RunScan(portal, callback, arg, true, FETCH_ALL);
}

/*
 * SourceScanRaw runs an open source cursor to the end like SourceScan, but
 * hands the callback the slot as the executor made it, not deformed: a
 * callback that reads the tuple itself (predict_table's fixed-width
 * features) skips the deforming, and calls slot_getallattrs otherwise.
 */
void
SourceScanRaw(Portal portal, SourceRowCallback callback, void *arg)
{
	(void) RunScan(portal, callback, arg, false, FETCH_ALL);
}

/*
 * SourceScanSome reads at most count more rows of an open source cursor
 * like SourceScan and returns how many it read (fewer than count: the end),
 * so a reader can stop between batches (a memory cap reached).
 */
uint64
SourceScanSome(Portal portal, SourceRowCallback callback, void *arg, long count)
{
	Assert(count > 0);
	return RunScan(portal, callback, arg, true, count);
}

/*
 * RunScan runs an open source cursor for count rows (FETCH_ALL: to the end)
 * with a receiver that calls callback for every row, deforming the slot
 * first when deform is set, and returns the number of rows read.
 */
static uint64
RunScan(Portal portal, SourceRowCallback callback, void *arg, bool deform, long count)
{
	CallbackReceiver *recv = palloc0(sizeof(CallbackReceiver));
	uint64		nread;

	recv->pub.receiveSlot = CallbackReceiveSlot;
	recv->pub.rStartup = CallbackStartup;
	recv->pub.rShutdown = CallbackShutdown;
	recv->pub.rDestroy = CallbackDestroy;
	recv->pub.mydest = DestNone;
	recv->callback = callback;
	recv->arg = arg;
	recv->deform = deform;
	recv->rowcxt = AllocSetContextCreate(CurrentMemoryContext,
										 "mlops source row",
										 ALLOCSET_SMALL_SIZES);

	nread = PortalRunFetch(portal, FETCH_FORWARD, count, &recv->pub);

	MemoryContextDelete(recv->rowcxt);
	pfree(recv);
	return nread;
}

/*
 * CallbackReceiveSlot deforms the slot (unless the scan is raw) and hands it
 * to the callback in the per-row context.
 */
static bool
CallbackReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	CallbackReceiver *recv = (CallbackReceiver *) self;
	MemoryContext old;

	CHECK_FOR_INTERRUPTS();
	MemoryContextReset(recv->rowcxt);
	old = MemoryContextSwitchTo(recv->rowcxt);
	if (recv->deform)
		slot_getallattrs(slot);
	recv->callback(slot, recv->arg);
	MemoryContextSwitchTo(old);
	return true;
}

/* CallbackStartup does nothing: the row type is known from the portal. */
static void
CallbackStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	(void) self;
	(void) operation;
	(void) typeinfo;
}

/* CallbackShutdown does nothing. */
static void
CallbackShutdown(DestReceiver *self)
{
	(void) self;
}

/* CallbackDestroy does nothing: SourceScan frees the receiver. */
static void
CallbackDestroy(DestReceiver *self)
{
	(void) self;
}
