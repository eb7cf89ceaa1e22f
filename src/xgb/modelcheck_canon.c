/*
 * modelcheck_canon.c
 *	  The canonical JSON writer of the model validator.
 *
 * A validated tree is written back as compact JSON with keys sorted
 * byte-wise, reals printed as the float32 values XGBoost reads them as and
 * non-finite markers as the bare tokens NaN, Infinity and -Infinity.  This
 * text is what the registry stores and the only form ever handed to
 * XGBoost.  Output goes to a growable buffer (OutBuf) whose allocation
 * failure is sticky, so the writer checks once at the end.  Pure C
 * (jansson, libc).
 */
#include <jansson.h>

#include "xgb/modelcheck_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* growable output buffer of the canonical writer */
typedef struct OutBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			failed;
} OutBuf;

static void OutAppend(OutBuf *b, const char *s, size_t n);
static void OutString(OutBuf *b, const char *s, size_t n);
static void OutReal(OutBuf *b, double v);
static int	WriteValue(OutBuf *b, json_t *value, int depth);
static int	CompareKeys(const void *a, const void *b);

/*
 * ModelCheckCanonicalJson writes model as compact JSON with keys sorted
 * byte-wise, reals as the float32 values XGBoost reads them as (see
 * OutReal), non-finite markers as NaN/Infinity tokens.  The result is malloc'd and
 * NUL-terminated.
 */
ModelCheckStatus
ModelCheckCanonicalJson(json_t *model, char **out, size_t *outlen, char *err, size_t errlen)
{
	OutBuf		b = {NULL, 0, 0, 0};

	*out = NULL;
	*outlen = 0;
	if (!WriteValue(&b, model, 0) || b.failed)
	{
		free(b.data);
		return b.failed ? McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory")
			: McSetError(err, errlen, MODELCHECK_TOO_LARGE, "model nests too deeply to write");
	}
	OutAppend(&b, "", 1);		/* the terminating NUL */
	if (b.failed)
	{
		free(b.data);
		return McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	}
	*out = b.data;
	*outlen = b.len - 1;
	return MODELCHECK_OK;
}

/*
 * OutAppend appends n bytes to b, growing it geometrically; a failed
 * allocation marks b failed and later appends do nothing.
 */
static void
OutAppend(OutBuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n)
	{
		size_t		cap = b->cap ? b->cap : 4096;
		char	   *p;

		while (cap - b->len < n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/*
 * OutString appends s as a quoted JSON string.  Quote, backslash and
 * control characters are escaped; other bytes (valid UTF-8, as jansson
 * guarantees) are copied.
 */
static void
OutString(OutBuf *b, const char *s, size_t n)
{
	OutAppend(b, "\"", 1);
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		esc[8];

		switch (c)
		{
			case '"':
				OutAppend(b, "\\\"", 2);
				break;
			case '\\':
				OutAppend(b, "\\\\", 2);
				break;
			case '\n':
				OutAppend(b, "\\n", 2);
				break;
			case '\r':
				OutAppend(b, "\\r", 2);
				break;
			case '\t':
				OutAppend(b, "\\t", 2);
				break;
			default:
				if (c < 0x20)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", c);
					OutAppend(b, esc, 6);
				}
				else
					OutAppend(b, s + i, 1);
		}
	}
	OutAppend(b, "\"", 1);
}

/*
 * OutReal appends a finite real as the float32 XGBoost reads it as (1.7
 * parses every JSON number into a float): nine significant digits, which
 * always read back to the same float, with a '.' or an exponent so that it
 * stays a JSON real.  Searching for the shortest digits instead costs
 * several conversions per number and dominated validation time.  Values
 * beyond float range (which the validator refuses in models) keep 17.
 */
static void
OutReal(OutBuf *b, double v)
{
	char		buf[512];		/* %g of a double cannot overflow it */

	if (fabs(v) <= FLT_MAX)
		snprintf(buf, sizeof(buf), "%.9g", (double) (float) v);
	else
		snprintf(buf, sizeof(buf), "%.17g", v);
	if (strpbrk(buf, ".e") == NULL)
		strcat(buf, ".0");
	OutAppend(b, buf, strlen(buf));
}

/*
 * CompareKeys orders object keys byte-wise for qsort.
 */
static int
CompareKeys(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * WriteValue appends value; it returns 0 when nesting exceeds a fixed
 * bound (validated models nest far less).
 */
static int
WriteValue(OutBuf *b, json_t *value, int depth)
{
	char		num[32];
	const char *token;

	if (depth > 64)
		return 0;
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			{
				size_t		n = json_object_size(value);
				const char **keys;
				const char *key;
				json_t	   *member;
				size_t		i = 0;

				if (McIsNonFiniteMarker(value, &token))
				{
					OutAppend(b, token, strlen(token));
					return 1;
				}
				keys = malloc(sizeof(char *) * (n > 0 ? n : 1));
				if (keys == NULL)
				{
					b->failed = 1;
					return 1;
				}
				json_object_foreach(value, key, member)
					keys[i++] = key;
				qsort(keys, n, sizeof(char *), CompareKeys);
				OutAppend(b, "{", 1);
				for (i = 0; i < n; i++)
				{
					if (i > 0)
						OutAppend(b, ",", 1);
					OutString(b, keys[i], strlen(keys[i]));
					OutAppend(b, ":", 1);
					if (!WriteValue(b, json_object_get(value, keys[i]), depth + 1))
					{
						free(keys);
						return 0;
					}
				}
				OutAppend(b, "}", 1);
				free(keys);
				return 1;
			}
		case JSON_ARRAY:
			OutAppend(b, "[", 1);
			for (size_t i = 0; i < json_array_size(value); i++)
			{
				if (i > 0)
					OutAppend(b, ",", 1);
				if (!WriteValue(b, json_array_get(value, i), depth + 1))
					return 0;
			}
			OutAppend(b, "]", 1);
			return 1;
		case JSON_STRING:
			OutString(b, json_string_value(value), json_string_length(value));
			return 1;
		case JSON_INTEGER:
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
			OutAppend(b, num, strlen(num));
			return 1;
		case JSON_REAL:
			OutReal(b, json_real_value(value));
			return 1;
		case JSON_TRUE:
			OutAppend(b, "true", 4);
			return 1;
		case JSON_FALSE:
			OutAppend(b, "false", 5);
			return 1;
		case JSON_NULL:
			OutAppend(b, "null", 4);
			return 1;
	}
	return 1;
}
