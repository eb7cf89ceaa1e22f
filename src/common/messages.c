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
 *	  UTF-8 database and "..." elsewhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

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
