/* unit-sources: src/monitor/expr.c */
/*
 * test_expr.c
 *	  Unit tests of the alert-condition language (src/monitor/expr.c): precedence,
 *	  types, missing metrics, failed arithmetic (refused when parsing where it
 *	  is certain, reported when evaluating otherwise), malformed input with
 *	  positions, and limits on very long and deeply nested input.  Prints TAP.
 */
#include "monitor/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	test_count = 0;
static int	failures = 0;

/* A fixed metric set standing in for the jsonb the server passes. */
typedef struct Metric
{
	const char *name;
	ExprValueType type;
	double		num;
	const char *str;
	int			boolean;
} Metric;

static const Metric metrics[] = {
	{"p95_latency_ms", EXPR_NUMBER, 250, NULL, 0},
	{"error_rate", EXPR_NUMBER, 0.05, NULL, 0},
	{"accuracy", EXPR_NUMBER, 0.75, NULL, 0},
	{"zero", EXPR_NUMBER, 0, NULL, 0},
	{"stage", EXPR_STRING, 0, "Production", 0},
	{"drift_detected", EXPR_BOOL, 0, NULL, 1},
	{"degraded", EXPR_BOOL, 0, NULL, 0},
	{"nullish", EXPR_MISSING, 0, NULL, 0},
	{"drift.age.psi", EXPR_NUMBER, 0.31, NULL, 0},
	{"missing", EXPR_NUMBER, 7, NULL, 0},
};

static int	lookups = 0;

/* Lookup finds a metric in the fixed set. */
static bool
Lookup(void *context, const char *name, ExprValue *out)
{
	(void) context;
	lookups++;
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
	{
		if (strcmp(metrics[i].name, name) != 0)
			continue;
		out->type = metrics[i].type;
		out->num = metrics[i].num;
		out->boolean = metrics[i].boolean;
		out->str = metrics[i].str;
		out->len = metrics[i].str ? strlen(metrics[i].str) : 0;
		return true;
	}
	return false;
}

/* Ok prints one TAP line. */
static void
Ok(int pass, const char *what)
{
	test_count++;
	if (!pass)
		failures++;
	printf("%s %d - %s\n", pass ? "ok" : "not ok", test_count, what);
}

/* Holds checks that text parses and evaluates to expected. */
static void
Holds(const char *text, int expected)
{
	ExprError	err;
	Expr	   *e = ExprParse(text, strlen(text), &err);
	char		what[512];

	snprintf(what, sizeof(what), "%s is %s", text, expected ? "true" : "false");
	if (e == NULL)
	{
		printf("# parse failed: %s\n", err.message);
		Ok(0, what);
		return;
	}
	Ok(ExprEvaluate(e, Lookup, NULL) == (expected != 0), what);
	ExprFree(e);
}

/*
 * Rejects checks that text fails to parse with an error of the given kind at
 * position wantpos, with a message containing want.
 */
static void
Rejects(const char *text, size_t len, ExprErrorKind kind, int wantpos, const char *want,
		const char *label)
{
	ExprError	err;
	Expr	   *e = ExprParse(text, len, &err);
	char		what[512];
	int			pos = err.position;

	snprintf(what, sizeof(what), "rejects %s at %d", label ? label : text, wantpos);
	if (e != NULL)
	{
		printf("# unexpectedly parsed\n");
		ExprFree(e);
		Ok(0, what);
		return;
	}
	if (pos != wantpos || err.kind != kind || strstr(err.message, want) == NULL)
		printf("# got kind %d, position %d, message: %s\n", err.kind, pos, err.message);
	Ok(pos == wantpos && err.kind == kind && strstr(err.message, want) != NULL, what);
}

/*
 * Fails checks that text parses, that evaluating it reports a failure of
 * the given kind at position wantpos with a message containing want, and
 * that the condition is then not met.
 */
static void
Fails(const char *text, ExprErrorKind kind, int wantpos, const char *want)
{
	ExprError	err;
	Expr	   *e = ExprParse(text, strlen(text), &err);
	char		what[512];
	int			rc;

	snprintf(what, sizeof(what), "%s fails at %d and is not met", text, wantpos);
	if (e == NULL)
	{
		printf("# parse failed: %s\n", err.message);
		Ok(0, what);
		return;
	}
	rc = ExprEvaluateChecked(e, Lookup, NULL, &err);
	if (rc != -1 || err.kind != kind || err.position != wantpos || strstr(err.message, want) == NULL)
		printf("# got %d, kind %d, position %d, message: %s\n", rc, err.kind, err.position, err.message);
	Ok(rc == -1 && err.kind == kind && err.position == wantpos && strstr(err.message, want) != NULL &&
	   !ExprEvaluate(e, Lookup, NULL), what);
	ExprFree(e);
}

/* Repeat returns a malloc'd string of prefix, n copies of unit, suffix. */
static char *
Repeat(const char *prefix, const char *unit, int n, const char *middle, const char *unit2, int n2)
{
	size_t		len = strlen(prefix) + strlen(unit) * n + strlen(middle) + strlen(unit2) * n2 + 1;
	char	   *s = malloc(len);

	strcpy(s, prefix);
	for (int i = 0; i < n; i++)
		strcat(s, unit);
	strcat(s, middle);
	for (int i = 0; i < n2; i++)
		strcat(s, unit2);
	return s;
}

/* main runs every case and prints the TAP plan last. */
int
main(void)
{
	ExprError	err;
	Expr	   *e;
	char	   *s;

	/* precedence and associativity */
	Holds("1 + 2 * 3 = 7", 1);
	Holds("(1 + 2) * 3 = 9", 1);
	Holds("10 - 4 - 3 = 3", 1);
	Holds("8 / 4 / 2 = 1", 1);
	Holds("-2 * 3 = -6", 1);
	Holds("- -2 = 2", 1);
	Holds("2 - -2 = 4", 1);
	Holds("true or false and false", 1);
	Holds("(true or false) and false", 0);
	Holds("not false and false", 0);
	Holds("not (false and false)", 1);
	Holds("not not true", 1);

	/* comparisons on every type */
	Holds("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 = 1 and 1 != 2", 1);
	Holds("1.5e2 = 150 and .5 = 0.5 and 2E-1 = 0.2", 1);
	Holds("'abc' < 'abd' and \"b\" > 'a' and 'ab' < 'abc' and 'x' = \"x\"", 1);
	Holds("'it\\'s' = \"it's\"", 1);
	Holds("true = true and true != false", 1);

	/* metrics */
	Holds("p95_latency_ms > 200 and error_rate >= 0.05", 1);
	Holds("p95_latency_ms > 300 or accuracy < 0.8", 1);
	Holds("P95_LATENCY_MS > 200", 0);	/* names are case-sensitive */
	Holds("p95_latency_ms > 200 AND error_rate >= 0.05 Or FALSE", 1);	/* keywords are not */
	Holds("stage = 'Production'", 1);
	Holds("stage != 'Staging' and stage > 'P'", 1);
	Holds("drift_detected", 1);
	Holds("drift_detected and not degraded", 1);
	Holds("drift_detected = true", 1);
	Holds("drift.age.psi > 0.2", 1);
	Holds("missing > 5", 1);	/* "missing" without ( is a metric name */
	Holds("p95_latency_ms / 1000 > 0.2", 1);
	Holds("(accuracy - 0.92) / 0.92 < -0.1", 1);

	/* missing metrics */
	Holds("nope > 1", 0);
	Holds("nope < 1", 0);
	Holds("nope = nope", 0);
	Holds("nope != 1", 0);
	Holds("not (nope > 1)", 1);
	Holds("missing(nope)", 1);
	Holds("missing(p95_latency_ms)", 0);
	Holds("MISSING(nullish)", 1);
	Holds("nullish = 0", 0);
	Holds("nope + 1 > 0", 0);
	Holds("-nope < 0", 0);
	Holds("nope", 0);
	Holds("nope or p95_latency_ms > 1", 1);
	Holds("missing(nope) or nope > 1", 1);
	Holds("missing(missing)", 0);

	/* runtime types and undefined arithmetic */
	Holds("stage > 1", 0);
	Holds("stage + 1 > 0", 0);
	Holds("p95_latency_ms", 0);	/* a number used as a boolean */
	Holds("not p95_latency_ms", 1);
	Holds("drift_detected > 0", 0);
	Holds("1 / zero > 0", 0);
	Holds("1 / zero < 0", 0);
	Holds("0 / 5 = 0", 1);
	Holds("1e-300 * 1e-300 = 0", 1);	/* underflow is not an error */
	Holds("nope / zero > 1", 0);	/* a missing operand: missing, not a failure */

	/* failed arithmetic: the condition is not met, whatever surrounds it, and says why */
	Fails("p95_latency_ms / zero > 1", EXPR_ERROR_DIVISION, 16, "division by zero at position 16");
	Fails("not (p95_latency_ms / zero > 1)", EXPR_ERROR_DIVISION, 21, "division by zero");
	Fails("1 / zero < 0 or p95_latency_ms > 1", EXPR_ERROR_DIVISION, 3, "division by zero");
	Fails("p95_latency_ms * 1e307 > 0", EXPR_ERROR_OVERFLOW, 16, "the result of \"*\" at position 16 is out of range");
	Fails("-1.7e308 - p95_latency_ms * 1e305 < 0", EXPR_ERROR_OVERFLOW, 10, "the result of \"-\" at position 10");
	Fails("accuracy / (zero * 2) > 1", EXPR_ERROR_DIVISION, 10, "division by zero");

	/* short circuit: the right side of and/or is not read when not needed */
	s = "false and p95_latency_ms > 1";
	e = ExprParse(s, strlen(s), &err);
	lookups = 0;
	Ok(e && !ExprEvaluate(e, Lookup, NULL) && lookups == 0, "and short-circuits");
	ExprFree(e);

	/* metric names are collected once, in order */
	s = "b > 1 and a < 2 or missing(c) or b = a";
	e = ExprParse(s, strlen(s), &err);
	Ok(e && ExprMetricCount(e) == 3 && strcmp(ExprMetricName(e, 0), "b") == 0 &&
	   strcmp(ExprMetricName(e, 1), "a") == 0 && strcmp(ExprMetricName(e, 2), "c") == 0 &&
	   ExprMetricName(e, 3) == NULL, "metric names are distinct and in order");
	ExprFree(e);

	/* the text need not be NUL-terminated */
	e = ExprParse("1 < 2garbage", 5, &err);
	Ok(e && ExprEvaluate(e, Lookup, NULL), "parses only textlen bytes");
	ExprFree(e);

	/* malformed input: position and what was expected */
	Rejects("", 0, EXPR_ERROR_SYNTAX, 1, "expected a number, string, true, false, metric name, missing(name) or \"(\", found end of condition", "empty");
	Rejects("   ", 3, EXPR_ERROR_SYNTAX, 4, "found end of condition", "blank");
	Rejects("a >", 3, EXPR_ERROR_SYNTAX, 4, "expected a number", NULL);
	Rejects("a > > 1", 7, EXPR_ERROR_SYNTAX, 5, "found \">\"", NULL);
	Rejects("(a > 1", 6, EXPR_ERROR_SYNTAX, 7, "expected \")\" or an operator, found end of condition", NULL);
	Rejects("a > 1)", 6, EXPR_ERROR_SYNTAX, 6, "expected an operator or end of condition, found \")\"", NULL);
	Rejects("a > 1 b", 7, EXPR_ERROR_SYNTAX, 7, "expected an operator or end of condition, found \"b\"", NULL);
	Rejects("a @ 1", 5, EXPR_ERROR_SYNTAX, 3, "unexpected character \"@\"", NULL);
	Rejects("a ! 1", 5, EXPR_ERROR_SYNTAX, 3, "did you mean \"!=\"", NULL);
	Rejects("a == 1", 6, EXPR_ERROR_SYNTAX, 4, "found \"=\"", NULL);
	Rejects("s = 'abc", 8, EXPR_ERROR_SYNTAX, 5, "unterminated string", NULL);
	Rejects("a > 1e", 6, EXPR_ERROR_SYNTAX, 5, "exponent needs digits", NULL);
	Rejects("a > 5ms", 7, EXPR_ERROR_SYNTAX, 5, "invalid number", NULL);
	Rejects("a > 1e999", 9, EXPR_ERROR_SYNTAX, 5, "out of range", NULL);
	Rejects("a < b < c", 9, EXPR_ERROR_SYNTAX, 7, "comparisons cannot be chained", NULL);
	Rejects("a > 1 and", 9, EXPR_ERROR_SYNTAX, 10, "expected a number", NULL);
	Rejects("and a", 5, EXPR_ERROR_SYNTAX, 1, "found \"and\"", NULL);
	Rejects("missing(1)", 10, EXPR_ERROR_SYNTAX, 9, "expected a metric name, found \"1\"", NULL);
	Rejects("missing(a", 9, EXPR_ERROR_SYNTAX, 10, "expected \")\", found end of condition", NULL);
	Rejects("missing()", 9, EXPR_ERROR_SYNTAX, 9, "expected a metric name", NULL);
	Rejects("a > 1\x01", 6, EXPR_ERROR_SYNTAX, 6, "unexpected byte 0x01", "a control byte");
	Rejects("a > 1\0 or b", 11, EXPR_ERROR_SYNTAX, 6, "unexpected byte 0x00", "an embedded NUL");

	/* failures certain when parsing: a divisor of literals that is 0, literals that overflow */
	Rejects("accuracy / 0 > 1", 16, EXPR_ERROR_DIVISION, 10, "division by zero at position 10: the divisor is always 0", NULL);
	Rejects("accuracy / (1 - 1) > 1", 22, EXPR_ERROR_DIVISION, 10, "the divisor is always 0", NULL);
	Rejects("accuracy / -0.0 > 1", 19, EXPR_ERROR_DIVISION, 10, "the divisor is always 0", NULL);
	Rejects("1e308 * 10 > accuracy", 21, EXPR_ERROR_OVERFLOW, 7, "the result of \"*\" at position 7 is out of range", NULL);
	Rejects("x > 1 / 0", 9, EXPR_ERROR_DIVISION, 7, "the divisor is always 0", NULL);
	Holds("accuracy / (1 - 0.5) > 1", 1);
	Holds("accuracy / 0.5 > 1", 1);

	/* types known at parse time */
	Rejects("1 + 'x' > 0", 11, EXPR_ERROR_TYPE, 3, "\"+\" needs number operands, found a string", NULL);
	Rejects("not 3", 5, EXPR_ERROR_TYPE, 1, "\"not\" needs boolean operands, found a number", NULL);
	Rejects("a > 1 and 5", 11, EXPR_ERROR_TYPE, 7, "\"and\" needs boolean operands, found a number", NULL);
	Rejects("-true", 5, EXPR_ERROR_TYPE, 1, "\"-\" needs number operands, found a boolean", NULL);
	Rejects("'a' > 1", 7, EXPR_ERROR_TYPE, 5, "cannot compare a string with a number", NULL);
	Rejects("true < false", 12, EXPR_ERROR_TYPE, 6, "cannot order booleans", NULL);
	Rejects("a < true", 8, EXPR_ERROR_TYPE, 3, "cannot order booleans", NULL);
	Rejects("1 + 2", 5, EXPR_ERROR_TYPE, 1, "a condition must be boolean, found a number", NULL);
	Rejects("'x'", 3, EXPR_ERROR_TYPE, 1, "a condition must be boolean, found a string", NULL);

	/* limits: length, nesting, number of terms, name length */
	s = Repeat("", "a", EXPR_MAX_LENGTH - 4, " > 1", "", 0);
	e = ExprParse(s, strlen(s), &err);
	Ok(e == NULL && strstr(err.message, "name is longer than") != NULL, "rejects a name longer than the limit");
	ExprFree(e);
	free(s);

	s = Repeat("", "x", EXPR_MAX_NAME, " > 1", "", 0);
	e = ExprParse(s, strlen(s), &err);
	Ok(e != NULL, "accepts a name of the maximum length");
	ExprFree(e);
	free(s);

	s = Repeat("", " ", EXPR_MAX_LENGTH - 5, "a > 1", "", 0);
	e = ExprParse(s, strlen(s), &err);
	Ok(e != NULL, "accepts a condition of the maximum length");
	ExprFree(e);
	free(s);

	s = Repeat("", " ", EXPR_MAX_LENGTH - 4, "a > 1", "", 0);
	Rejects(s, strlen(s), EXPR_ERROR_LIMIT, EXPR_MAX_LENGTH + 1, "condition is too long: 4097 bytes, the limit is 4096",
			"a condition one byte too long");
	free(s);

	s = Repeat("", "(", EXPR_MAX_DEPTH, "a > 1", ")", EXPR_MAX_DEPTH);
	Holds(s, 0);
	free(s);

	s = Repeat("", "(", EXPR_MAX_DEPTH + 1, "a > 1", ")", EXPR_MAX_DEPTH + 1);
	Rejects(s, strlen(s), EXPR_ERROR_LIMIT, EXPR_MAX_DEPTH + 1, "nested too deeply", "65 nested parentheses");
	free(s);

	s = Repeat("", "(", 2000, "", "", 0);
	Rejects(s, strlen(s), EXPR_ERROR_LIMIT, EXPR_MAX_DEPTH + 1, "the limit is 64 levels", "2000 open parentheses");
	free(s);

	s = Repeat("", "not ", 1000, "true", "", 0);
	Rejects(s, strlen(s), EXPR_ERROR_LIMIT, 4 * EXPR_MAX_DEPTH + 1, "nested too deeply", "1000 nots");
	free(s);

	s = Repeat("", "-", 3000, "1 > 0", "", 0);
	Rejects(s, strlen(s), EXPR_ERROR_LIMIT, EXPR_MAX_DEPTH + 1, "nested too deeply", "3000 unary minuses");
	free(s);

	s = Repeat("1", "+1", 1500, " > 0", "", 0);
	e = ExprParse(s, strlen(s), &err);
	Ok(e == NULL && strstr(err.message, "too many terms") != NULL && err.position > 0 && err.kind == EXPR_ERROR_LIMIT,
	   "rejects a chain of 1501 terms");
	ExprFree(e);
	free(s);

	s = Repeat("1", "+1", 400, " > 400", "", 0);
	Holds(s, 1);
	free(s);

	/* a successful parse leaves no error behind */
	e = ExprParse("a > 1", 5, &err);
	Ok(e != NULL && err.kind == EXPR_ERROR_NONE && err.position == 0 && err.message[0] == '\0',
	   "success clears the error");
	ExprFree(e);

	printf("1..%d\n", test_count);
	return failures == 0 ? 0 : 1;
}
