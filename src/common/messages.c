/*-------------------------------------------------------------------------
 *
 * messages.c
 *	  Bounded pieces of error messages: a message never echoes an unbounded
 *	  string or lists an unbounded number of problems, whatever the input
 *	  (one predict call with a million unknown keys must not write a 27 MB
 *	  DETAIL to the server log).
 *
 *	  MlopsClip shortens one string; MlopsListInit/MlopsListAdd/
 *	  MlopsListDone build "a, b, c … and N more" from any number of items,
 *	  formatting only the first MLOPS_LIST_MAX.  The ellipsis is "…" in a
 *	  UTF-8 database and "..." elsewhere.  mlops._clip(text) and
 *	  mlops._list(text[]) are their SQL faces, for messages raised in SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "utils/resowner.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "common/common.h"

/*
 * MlopsEllipsis returns the ellipsis character in a UTF-8 database, three
 * dots elsewhere.
 */
const char *
MlopsEllipsis(void)
{
	return GetDatabaseEncoding() == PG_UTF8 ? "\xE2\x80\xA6" : "...";
}

/*
 * MlopsClip returns s, or its first max_bytes bytes (cut at a character
 * boundary) followed by an ellipsis when it is longer.
 */
char *
MlopsClip(const char *s, int max_bytes)
{
	int			len = strlen(s);

	if (len <= max_bytes)
		return pstrdup(s);
	return psprintf("%.*s%s", pg_mbcliplen(s, len, max_bytes), s, MlopsEllipsis());
}

/*
 * MlopsListInit starts a bounded list of at most max_items shown items.
 */
void
MlopsListInit(MlopsList *list, int max_items)
{
	initStringInfo(&list->buf);
	list->max_items = max_items;
	list->shown = 0;
	list->total = 0;
}

/*
 * MlopsListAdd counts one more item and appends it, formatted, when fewer
 * than max_items are shown; later items are only counted, never formatted.
 */
void
MlopsListAdd(MlopsList *list, const char *fmt,...)
{
	list->total++;
	if (list->shown >= list->max_items)
		return;
	if (list->shown > 0)
		appendStringInfoString(&list->buf, ", ");
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&list->buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&list->buf, needed);
	}
	list->shown++;
}

/*
 * MlopsListDone returns the list: its shown items, then, when items were
 * left out, "… and N more".  An empty list gives an empty string.
 */
char *
MlopsListDone(MlopsList *list)
{
	if (list->total > list->shown)
		appendStringInfo(&list->buf, " %s and %d more", MlopsEllipsis(), list->total - list->shown);
	return list->buf.data;
}

PG_FUNCTION_INFO_V1(mlops_clip);
PG_FUNCTION_INFO_V1(mlops_list);

/*
 * mlops_clip is the SQL face of MlopsClip: mlops._clip(s text) returns s
 * clipped to MLOPS_ECHO_MAX bytes.  Only the first bytes of a long value are
 * detoasted.
 */
Datum
mlops_clip(PG_FUNCTION_ARGS)
{
	text	   *head = PG_GETARG_TEXT_P_SLICE(0, 0, MLOPS_ECHO_MAX + MAX_MULTIBYTE_CHAR_LEN);

	PG_RETURN_TEXT_P(cstring_to_text(MlopsClip(text_to_cstring(head), MLOPS_ECHO_MAX)));
}

/*
 * mlops_list is the SQL face of MlopsList: mlops._list(items text[]) returns
 * the first MLOPS_LIST_MAX items, each clipped, separated by ", ", then
 * "… and N more"; a NULL item is shown as NULL.
 */
Datum
mlops_list(PG_FUNCTION_ARGS)
{
	ArrayType  *items = PG_GETARG_ARRAYTYPE_P(0);
	ArrayIterator it;
	MlopsList	list;
	Datum		item;
	bool		isnull;

	if (ARR_ELEMTYPE(items) != TEXTOID)
		elog(ERROR, "mlops._list expects text[]");
	MlopsListInit(&list, MLOPS_LIST_MAX);
	it = array_create_iterator(items, 0, NULL);
	while (array_iterate(it, &item, &isnull))
	{
		CHECK_FOR_INTERRUPTS();
		if (list.shown >= list.max_items)
			MlopsListAdd(&list, "%s", "");	/* counted, never formatted */
		else if (isnull)
			MlopsListAdd(&list, "NULL");
		else
			MlopsListAdd(&list, "%s", MlopsClip(TextDatumGetCString(item), MLOPS_ECHO_MAX));
	}
	array_free_iterator(it);
	PG_RETURN_TEXT_P(cstring_to_text(MlopsListDone(&list)));
}

/*
 * MlopsTryInSubxact runs fn(arg) in a subtransaction and returns NULL when
 * it succeeds, or the error it raised (copied into the caller's memory
 * context), with the subtransaction rolled back so it leaves nothing
 * behind.  A cancel, a timeout or anything worse than ERROR is not caught:
 * it propagates, so a caller never swallows the user's interrupt.
 */
ErrorData *
MlopsTryInSubxact(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->elevel > ERROR)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}
