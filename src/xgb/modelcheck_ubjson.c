/*
 * modelcheck_ubjson.c
 *	  The UBJSON reader of the model validator: XGBoost's UBJSON bytes to a
 *	  jansson tree.
 *
 * libxgboost 1.7 reads UBJSON without bounds checks, so this reader is the
 * only code that ever sees user UBJSON: a recursive descent over a cursor
 * (UbjReader) that checks every count and length against the bytes that
 * remain before reading or allocating, caps the nesting at
 * limits->max_depth and runs under the decode budget of modelcheck.c.
 * Non-finite floats become non-finite markers, as in the JSON reader.  Pure
 * C (jansson, libc); the design of the whole validator is in modelcheck.c.
 */
#include <jansson.h>

#include "xgb/modelcheck_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* cursor of the UBJSON reader */
typedef struct UbjReader
{
	const unsigned char *buf;
	size_t		len;
	size_t		pos;
	const ModelCheckLimits *limits;
	ModelCheckStatus status;
	char	   *err;
	size_t		errlen;
} UbjReader;

static json_t *UbjReadValue(UbjReader *r, int marker, int depth);
static json_t *UbjReadArray(UbjReader *r, int depth);
static json_t *UbjReadObject(UbjReader *r, int depth);
static int	UbjReadByte(UbjReader *r, int *out);
static int	UbjReadInt(UbjReader *r, int marker, int64_t *out);
static int	UbjReadLength(UbjReader *r, int64_t *out);
static int	UbjReadContainerHeader(UbjReader *r, int *type, int64_t *count);
static json_t *UbjReadString(UbjReader *r);
static json_t *UbjFail(UbjReader *r, ModelCheckStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static size_t UbjScalarSize(int marker);

/*
 * ModelCheckParseUbjson decodes UBJSON as XGBoost 1.7 writes it (objects,
 * arrays with optional $type/#count headers, integer, float, string, bool
 * and null values) into a jansson tree.  Every count and length is checked
 * against the bytes that remain before anything is read or allocated;
 * nesting is capped; trailing bytes, duplicate keys, NUL bytes in strings
 * and invalid UTF-8 are errors.
 */
ModelCheckStatus
ModelCheckParseUbjson(const unsigned char *buf, size_t len, const ModelCheckLimits *limits,
					  json_t **out, char *err, size_t errlen)
{
	UbjReader	r;
	int			marker;
	json_t	   *root;

	*out = NULL;
	if (len > limits->max_bytes)
		return McSetError(err, errlen, MODELCHECK_TOO_LARGE,
						  "model is %zu bytes, more than the limit of %zu bytes",
						  len, limits->max_bytes);
	r.buf = buf;
	r.len = len;
	r.pos = 0;
	r.limits = limits;
	r.status = MODELCHECK_OK;
	r.err = err;
	r.errlen = errlen;

	if (!UbjReadByte(&r, &marker))
		return r.status;
	if (marker != '{')
		return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
						  "ubjson model does not start with an object");
	McBeginBudget(McDecodeBudget(limits, len));
	root = UbjReadValue(&r, marker, 0);
	if (McEndBudget())
	{
		json_decref(root);
		return McSetError(err, errlen, MODELCHECK_TOO_LARGE,
						  "decoding the model would take more than %zu bytes of memory",
						  McDecodeBudget(limits, len));
	}
	if (root == NULL)
		return r.status;
	if (r.pos != r.len)
	{
		json_decref(root);
		return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
						  "ubjson model has %zu trailing bytes", r.len - r.pos);
	}
	*out = root;
	return MODELCHECK_OK;
}

/*
 * UbjFail records an error in the reader and returns NULL.  The first error
 * wins: a failure deep inside is what the message describes.
 */
static json_t *
UbjFail(UbjReader *r, ModelCheckStatus status, const char *fmt,...)
{
	va_list		ap;

	if (r->status == MODELCHECK_OK)
	{
		r->status = status;
		if (r->err != NULL && r->errlen > 0)
		{
			va_start(ap, fmt);
			vsnprintf(r->err, r->errlen, fmt, ap);
			va_end(ap);
		}
	}
	return NULL;
}

/*
 * UbjReadByte reads one byte, failing at the end of the buffer.
 */
static int
UbjReadByte(UbjReader *r, int *out)
{
	if (r->pos >= r->len)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "ubjson model is truncated at byte %zu", r->pos);
		return 0;
	}
	*out = r->buf[r->pos++];
	return 1;
}

/*
 * UbjScalarSize returns the payload size of a fixed-size scalar marker, or
 * 0 for markers that are not fixed-size numbers.
 */
static size_t
UbjScalarSize(int marker)
{
	switch (marker)
	{
		case 'i':
		case 'U':
			return 1;
		case 'I':
			return 2;
		case 'l':
		case 'd':
			return 4;
		case 'L':
		case 'D':
			return 8;
		default:
			return 0;
	}
}

/*
 * UbjReadBigEndian reads n (<= 8) bytes as a big-endian unsigned number;
 * the caller has checked that they are there.
 */
static uint64_t
UbjReadBigEndian(UbjReader *r, size_t n)
{
	uint64_t	v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | r->buf[r->pos + i];
	r->pos += n;
	return v;
}

/*
 * UbjReadInt reads the payload of integer marker into *out.
 */
static int
UbjReadInt(UbjReader *r, int marker, int64_t *out)
{
	size_t		n = UbjScalarSize(marker);
	uint64_t	u;

	if (n == 0 || marker == 'd' || marker == 'D')
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT,
				"expected an integer type marker at byte %zu", r->pos);
		return 0;
	}
	if (r->len - r->pos < n)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "ubjson model is truncated at byte %zu", r->pos);
		return 0;
	}
	u = UbjReadBigEndian(r, n);
	switch (marker)
	{
		case 'i':
			*out = (int8_t) u;
			break;
		case 'U':
			*out = (uint8_t) u;
			break;
		case 'I':
			*out = (int16_t) u;
			break;
		case 'l':
			*out = (int32_t) u;
			break;
		default:
			*out = (int64_t) u;
			break;
	}
	return 1;
}

/*
 * UbjReadLength reads a marker and a non-negative integer after it: the
 * form of string lengths, object keys and container counts.
 */
static int
UbjReadLength(UbjReader *r, int64_t *out)
{
	int			marker;

	if (!UbjReadByte(r, &marker) || !UbjReadInt(r, marker, out))
		return 0;
	if (*out < 0)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "negative length %lld at byte %zu",
				(long long) *out, r->pos);
		return 0;
	}
	return 1;
}

/*
 * UbjReadString reads a length and that many bytes as a UTF-8 string.
 */
static json_t *
UbjReadString(UbjReader *r)
{
	int64_t		n;
	json_t	   *s;

	if (!UbjReadLength(r, &n))
		return NULL;
	if ((uint64_t) n > r->len - r->pos)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "string of %lld bytes at byte %zu runs past the end of the model",
					   (long long) n, r->pos);
	if (memchr(r->buf + r->pos, '\0', (size_t) n) != NULL)
		return UbjFail(r, MODELCHECK_BAD_FORMAT, "string at byte %zu contains a NUL byte", r->pos);
	s = json_stringn((const char *) r->buf + r->pos, (size_t) n);
	if (s == NULL)
		return UbjFail(r, MODELCHECK_BAD_FORMAT, "string at byte %zu is not valid UTF-8", r->pos);
	r->pos += (size_t) n;
	return s;
}

/*
 * UbjReadValue reads the value introduced by marker (already consumed).
 */
static json_t *
UbjReadValue(UbjReader *r, int marker, int depth)
{
	int64_t		i;
	uint64_t	u;
	json_t	   *v;

	switch (marker)
	{
		case '{':
		case '[':
			if (depth >= r->limits->max_depth)
				return UbjFail(r, MODELCHECK_TOO_LARGE,
							   "ubjson model nests deeper than %d levels", r->limits->max_depth);
			return marker == '{' ? UbjReadObject(r, depth + 1) : UbjReadArray(r, depth + 1);
		case 'Z':
			return json_null();
		case 'T':
			return json_true();
		case 'F':
			return json_false();
		case 'i':
		case 'U':
		case 'I':
		case 'l':
		case 'L':
			if (!UbjReadInt(r, marker, &i))
				return NULL;
			v = json_integer(i);
			break;
		case 'd':
		case 'D':
			{
				double		d;

				if (r->len - r->pos < UbjScalarSize(marker))
					return UbjFail(r, MODELCHECK_BAD_FORMAT,
								   "ubjson model is truncated at byte %zu", r->pos);
				u = UbjReadBigEndian(r, UbjScalarSize(marker));
				if (marker == 'd')
				{
					uint32_t	u32 = (uint32_t) u;
					float		f;

					memcpy(&f, &u32, sizeof(f));
					d = f;
				}
				else
					memcpy(&d, &u, sizeof(d));
				v = isfinite(d) ? json_real(d) : McMakeNonFinite(d);
				break;
			}
		case 'S':
			return UbjReadString(r);
		case 'N':
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "no-op marker at byte %zu is not used by xgboost", r->pos - 1);
		case 'H':
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "high-precision number at byte %zu is not supported", r->pos - 1);
		default:
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "unknown type marker 0x%02x at byte %zu", marker, r->pos - 1);
	}
	if (v == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	return v;
}

/*
 * UbjReadContainerHeader reads the optional "$type" and "#count" parts
 * after '[' or '{'.  *type is 0 and *count -1 when absent.  A count is
 * checked against the bytes remaining, assuming the smallest encoding of
 * each element (min_size bytes), so that a forged count can never drive an
 * allocation or a loop past the end of the input.
 */
static int
UbjReadContainerHeader(UbjReader *r, int *type, int64_t *count)
{
	*type = 0;
	*count = -1;
	if (r->pos < r->len && r->buf[r->pos] == '$')
	{
		r->pos++;
		if (!UbjReadByte(r, type))
			return 0;
		if (UbjScalarSize(*type) == 0 && *type != 'S')
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT,
					"unsupported element type 0x%02x of a typed container at byte %zu",
					*type, r->pos - 1);
			return 0;
		}
		if (r->pos >= r->len || r->buf[r->pos] != '#')
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT,
					"typed container without a count at byte %zu", r->pos);
			return 0;
		}
	}
	if (r->pos < r->len && r->buf[r->pos] == '#')
	{
		r->pos++;
		if (!UbjReadLength(r, count))
			return 0;
	}
	return 1;
}

/*
 * UbjReadArray reads the elements of an array whose '[' was consumed.
 */
static json_t *
UbjReadArray(UbjReader *r, int depth)
{
	int			type;
	int64_t		count;
	size_t		min_size;
	json_t	   *arr;

	if (!UbjReadContainerHeader(r, &type, &count))
		return NULL;
	min_size = type == 0 ? 1 : (type == 'S' ? 2 : UbjScalarSize(type));
	if (count >= 0 && (uint64_t) count > (r->len - r->pos) / min_size)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "array of %lld elements at byte %zu runs past the end of the model",
					   (long long) count, r->pos);
	arr = json_array();
	if (arr == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	for (int64_t i = 0; count < 0 || i < count; i++)
	{
		int			marker = type;
		json_t	   *v;

		if (marker == 0)
		{
			if (!UbjReadByte(r, &marker))
				goto fail;
			if (count < 0 && marker == ']')
				return arr;
		}
		v = UbjReadValue(r, marker, depth);
		if (v == NULL || json_array_append_new(arr, v) != 0)
		{
			if (v != NULL)
				UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
			goto fail;
		}
	}
	return arr;

fail:
	json_decref(arr);
	return NULL;
}

/*
 * UbjReadObject reads the members of an object whose '{' was consumed.
 * Keys are written as a length without the 'S' marker.
 */
static json_t *
UbjReadObject(UbjReader *r, int depth)
{
	int			type;
	int64_t		count;
	json_t	   *obj;

	if (!UbjReadContainerHeader(r, &type, &count))
		return NULL;
	/* a member is at least a key length (2 bytes) and a value (1 byte) */
	if (count >= 0 && (uint64_t) count > (r->len - r->pos) / 3)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "object of %lld members at byte %zu runs past the end of the model",
					   (long long) count, r->pos);
	obj = McNewObject();
	if (obj == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	for (int64_t i = 0; count < 0 || i < count; i++)
	{
		int			marker = type;
		json_t	   *key;
		json_t	   *v;
		const char *k;

		if (count < 0 && r->pos < r->len && r->buf[r->pos] == '}')
		{
			r->pos++;
			return obj;
		}
		key = UbjReadString(r);
		if (key == NULL)
			goto fail;
		k = json_string_value(key);
		if (json_object_get(obj, k) != NULL)
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT, "duplicate object key \"%.64s\" at byte %zu",
					k, r->pos);
			json_decref(key);
			goto fail;
		}
		if (marker == 0 && !UbjReadByte(r, &marker))
		{
			json_decref(key);
			goto fail;
		}
		v = UbjReadValue(r, marker, depth);
		if (v == NULL || json_object_set_new(obj, k, v) != 0)
		{
			if (v != NULL)
				UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
			json_decref(key);
			goto fail;
		}
		json_decref(key);
	}
	return obj;

fail:
	json_decref(obj);
	return NULL;
}
