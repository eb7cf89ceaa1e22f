/*-------------------------------------------------------------------------
 *
 * categories.c
 *	  Counting the categories of a reference and a current sample, for the
 *	  categorical array functions and the drift detector.
 *
 * A CategoryTable maps a category's bytes to a dense index through a hash
 * table and keeps, per index, the name and the counts of both samples.
 * Indexes follow first appearance, so the reference's categories come
 * first; categories seen in only one sample simply count 0 in the other
 * (stats.c gives an empty share its floor).  All memory of a table lives in
 * the context that was current when it was created, so rows can be counted
 * from a short-lived per-row context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "drift/drift.h"

/* the hash key of a category: its bytes */
typedef struct CategoryKey
{
	const char *str;
	int			len;
} CategoryKey;

typedef struct CategoryEntry
{
	CategoryKey key;
	int			index;
} CategoryEntry;

/*
 * CategoryHash hashes a category's bytes.
 */
static uint32
CategoryHash(const void *key, Size keysize)
{
	const CategoryKey *k = (const CategoryKey *) key;

	return hash_bytes((const unsigned char *) k->str, k->len);
}

/*
 * CategoryMatch compares two categories' bytes (0 when equal).
 */
static int
CategoryMatch(const void *key1, const void *key2, Size keysize)
{
	const CategoryKey *a = (const CategoryKey *) key1;
	const CategoryKey *b = (const CategoryKey *) key2;

	if (a->len != b->len)
		return 1;
	return memcmp(a->str, b->str, a->len);
}

/*
 * CategoryTableInit creates an empty table in the current memory context.
 */
void
CategoryTableInit(CategoryTable *t)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CategoryKey);
	ctl.entrysize = sizeof(CategoryEntry);
	ctl.hash = CategoryHash;
	ctl.match = CategoryMatch;
	ctl.hcxt = CurrentMemoryContext;
	t->hash = hash_create("mlops drift categories", 64, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	t->cxt = CurrentMemoryContext;
	t->n = 0;
	t->cap = 16;
	t->names = palloc(sizeof(char *) * t->cap);
	t->ref_counts = palloc0(sizeof(double) * t->cap);
	t->cur_counts = palloc0(sizeof(double) * t->cap);
}

/*
 * CategoryIndex returns the index of a category, adding it (in the table's
 * memory context) when new.
 */
int
CategoryIndex(CategoryTable *t, const char *str, int len)
{
	CategoryKey key;
	CategoryEntry *e;
	bool		found;

	key.str = str;
	key.len = len;
	e = hash_search(t->hash, &key, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);
		char	   *copy = pnstrdup(str, len);

		if (t->n == t->cap)
		{
			t->cap *= 2;
			t->names = repalloc_huge(t->names, sizeof(char *) * (Size) t->cap);
			t->ref_counts = repalloc_huge(t->ref_counts, sizeof(double) * (Size) t->cap);
			t->cur_counts = repalloc_huge(t->cur_counts, sizeof(double) * (Size) t->cap);
		}
		/* the key must point at memory that lives as long as the table */
		e->key.str = copy;
		e->key.len = len;
		e->index = t->n;
		t->names[t->n] = copy;
		t->ref_counts[t->n] = 0;
		t->cur_counts[t->n] = 0;
		t->n++;
		MemoryContextSwitchTo(old);
	}
	return e->index;
}

/*
 * CategoryCountArray adds the non-NULL elements of a one-dimensional text[]
 * (argument argname) to the reference or current counts and reports how
 * many were counted and how many were NULL.
 */
void
CategoryCountArray(CategoryTable *t, ArrayType *arr, const char *argname, bool reference,
				   int64 *count, int64 *dropped)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64		kept = 0;

	DriftRequireOneDim(arr, argname);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		text	   *v;
		int			idx;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		v = (text *) DatumGetPointer(elems[i]);
		idx = CategoryIndex(t, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
		if (reference)
			t->ref_counts[idx] += 1;
		else
			t->cur_counts[idx] += 1;
		kept++;
	}
	*count = kept;
	*dropped = n - kept;
	pfree(elems);
	pfree(nulls);
}

/*
 * CategoryAddReference adds a reference's stored categories (text[]) with
 * their float8[] counts to t. Returns the number of categories, or -1 when
 * the two arrays do not pair up or a count is negative or not finite.
 */
int
CategoryAddReference(CategoryTable *t, ArrayType *names, ArrayType *counts)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				nv,
				dropped;
	double	   *v;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	v = DriftArrayToDoubles(counts, "category_counts", &nv, &dropped, false, NULL);
	if (dropped || nv != n)
		return -1;
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (nulls[i] || v[i] < 0)
			return -1;
	}
	for (int i = 0; i < n; i++)
	{
		text	   *s = DatumGetTextPP(elems[i]);

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		t->ref_counts[CategoryIndex(t, VARDATA_ANY(s), VARSIZE_ANY_EXHDR(s))] += v[i];
	}
	return n;
}
