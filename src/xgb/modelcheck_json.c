/*
 * modelcheck_json.c
 *	  The JSON reader of the model validator: XGBoost's JSON text to a
 *	  jansson tree.
 *
 * jansson refuses the bare tokens NaN, Infinity and -Infinity that XGBoost
 * writes (as the thresholds of categorical splits), so RewriteNonFinite
 * first replaces them, outside strings, by non-finite marker objects (see
 * "Non-finite numbers" in modelcheck.c); then jansson parses the text under
 * the decode budget, refusing duplicate keys.  Pure C (jansson, libc); the
 * design of the whole validator is in modelcheck.c.
 */
#include <jansson.h>

#include "xgb/modelcheck_int.h"

#include <string.h>
#include <stdlib.h>

static size_t RewriteNonFinite(const unsigned char *in, size_t len, char *out);

/*
 * ModelCheckParseJson parses a JSON model of at most limits->max_bytes into
 * a jansson object, refusing duplicate keys and keeping NaN/Infinity tokens
 * as non-finite markers.
 */
ModelCheckStatus
ModelCheckParseJson(const unsigned char *buf, size_t len, const ModelCheckLimits *limits,
					json_t **out, char *err, size_t errlen)
{
	size_t		rewritten_len;
	size_t		budget;
	char	   *text;
	json_t	   *root;
	json_error_t jerr;
	int			exceeded;

	*out = NULL;
	if (len > limits->max_bytes)
		return McSetError(err, errlen, MODELCHECK_TOO_LARGE,
						  "model is %zu bytes, more than the limit of %zu bytes",
						  len, limits->max_bytes);
	if (memchr(buf, '\0', len) != NULL)
		return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
						  "json model contains a NUL byte");

	budget = McDecodeBudget(limits, len);
	rewritten_len = RewriteNonFinite(buf, len, NULL);
	if (rewritten_len >= budget)
		return McSetError(err, errlen, MODELCHECK_TOO_LARGE,
						  "decoding the model would take more than %zu bytes of memory", budget);
	text = malloc(rewritten_len + 1);
	if (text == NULL)
		return McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	RewriteNonFinite(buf, len, text);

	McBeginBudget(budget - rewritten_len);
	root = json_loadb(text, rewritten_len, JSON_REJECT_DUPLICATES, &jerr);
	exceeded = McEndBudget();
	free(text);
	if (root == NULL && exceeded)
		return McSetError(err, errlen, MODELCHECK_TOO_LARGE,
						  "decoding the model would take more than %zu bytes of memory", budget);
	if (root == NULL)
		return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
						  "invalid json at line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root))
	{
		json_decref(root);
		return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
						  "json model is not an object");
	}
	*out = root;
	return MODELCHECK_OK;
}

/*
 * RewriteNonFinite copies JSON text replacing the bare tokens NaN, Infinity
 * and -Infinity outside strings by marker objects; with out == NULL it only
 * computes the length of the result.
 */
static size_t
RewriteNonFinite(const unsigned char *in, size_t len, char *out)
{
	static const struct
	{
		const char *token;
		const char *marker;
	}			map[] = {
		{"-Infinity", "{\"" MODELCHECK_NONFINITE_KEY "\":\"-Infinity\"}"},
		{"Infinity", "{\"" MODELCHECK_NONFINITE_KEY "\":\"Infinity\"}"},
		{"NaN", "{\"" MODELCHECK_NONFINITE_KEY "\":\"NaN\"}"},
	};
	size_t		i = 0;
	size_t		o = 0;
	int			in_string = 0;

	while (i < len)
	{
		int			matched = 0;

		if (in_string)
		{
			if (in[i] == '\\' && i + 1 < len)
			{
				if (out)
					memcpy(out + o, in + i, 2);
				o += 2;
				i += 2;
				continue;
			}
			if (in[i] == '"')
				in_string = 0;
		}
		else if (in[i] == '"')
			in_string = 1;
		else if (in[i] == 'N' || in[i] == 'I' || in[i] == '-')
		{
			for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
			{
				size_t		tl = strlen(map[k].token);

				if (len - i >= tl && memcmp(in + i, map[k].token, tl) == 0)
				{
					size_t		ml = strlen(map[k].marker);

					if (out)
						memcpy(out + o, map[k].marker, ml);
					o += ml;
					i += tl;
					matched = 1;
					break;
				}
			}
			if (matched)
				continue;
		}
		if (out)
			out[o] = (char) in[i];
		o++;
		i++;
	}
	if (out)
		out[o] = '\0';
	return o;
}
