/*
 * expr.h
 *	  The alert-condition language: a small, safe expression language parsed
 *	  and evaluated in pure C (no PostgreSQL headers).
 *
 * A condition such as
 *
 *		p95_latency_ms > 200 and (error_rate >= 0.05 or missing(accuracy))
 *
 * is parsed once into an Expr and evaluated against a metric lookup
 * callback.  The language has metric names, numbers, strings, booleans,
 * comparisons, and/or/not, parentheses, + - * / and missing(name).  It can
 * never run a query: the only thing it reads is what the callback returns.
 */
#ifndef MLOPS_EXPR_H
#define MLOPS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest condition accepted, in bytes. */
#define EXPR_MAX_LENGTH 4096
/* Deepest nesting of parentheses, not and unary minus. */
#define EXPR_MAX_DEPTH 64
/* Most operands and operators in one condition. */
#define EXPR_MAX_NODES 1000
/* Longest metric name, in bytes. */
#define EXPR_MAX_NAME 128

typedef enum ExprValueType
{
	EXPR_MISSING = 0,			/* metric absent, JSON null, or undefined result */
	EXPR_NUMBER,
	EXPR_STRING,
	EXPR_BOOL
} ExprValueType;

/*
 * ExprValue is a value seen by the evaluator.  A string is not
 * NUL-terminated: str points at len bytes owned by whoever produced it
 * (the parsed Expr for literals, the lookup callback for metrics) and must
 * stay valid for the duration of one ExprEvaluate call.
 */
typedef struct ExprValue
{
	ExprValueType type;
	double		num;
	bool		boolean;
	const char *str;
	size_t		len;
} ExprValue;

/*
 * ExprLookupFn fills *out with the value of metric "name" and returns true,
 * or returns false when there is no such metric.  Setting out->type to
 * EXPR_MISSING and returning true is the same as returning false.
 */
typedef bool (*ExprLookupFn) (void *context, const char *name, ExprValue *out);

typedef struct Expr Expr;

/* What kind of problem made ExprParse fail. */
typedef enum ExprErrorKind
{
	EXPR_ERROR_NONE = 0,
	EXPR_ERROR_SYNTAX,			/* malformed text */
	EXPR_ERROR_TYPE,			/* operand of the wrong type */
	EXPR_ERROR_LIMIT,			/* too long, too deeply nested, too many terms */
	EXPR_ERROR_MEMORY,			/* malloc failed */
	EXPR_ERROR_DIVISION,		/* division by zero (a divisor that is always 0, or was 0) */
	EXPR_ERROR_OVERFLOW			/* a result beyond the range of a double */
} ExprErrorKind;

/*
 * ExprError describes why a parse failed: the kind, the 1-based byte
 * position of the problem (0 when it is not at one place) and a lower-case
 * message without final period that already names the position.
 */
typedef struct ExprError
{
	ExprErrorKind kind;
	int			position;
	char		message[256];
} ExprError;

/*
 * ExprParse parses text (of textlen bytes; it need not be NUL-terminated)
 * and returns the condition, or NULL with *error filled in.
 */
extern Expr *ExprParse(const char *text, size_t textlen, ExprError *error);

/*
 * ExprEvaluateChecked evaluates the condition for the given metrics and
 * returns 1 when it holds, 0 when it does not, and -1 when arithmetic
 * failed on the way (division by zero, overflow): the condition is then not
 * met, and *error (when not NULL) says where and why.
 */
extern int	ExprEvaluateChecked(const Expr *expr, ExprLookupFn lookup, void *context,
								ExprError *error);

/* ExprEvaluate returns whether the condition holds (1 from ExprEvaluateChecked). */
extern bool ExprEvaluate(const Expr *expr, ExprLookupFn lookup, void *context);

/* ExprMetricCount returns how many distinct metric names expr mentions. */
extern int	ExprMetricCount(const Expr *expr);

/* ExprMetricName returns the i-th distinct metric name, in order of appearance. */
extern const char *ExprMetricName(const Expr *expr, int i);

/* ExprFree releases everything ExprParse allocated; NULL is allowed. */
extern void ExprFree(Expr *expr);

#endif							/* MLOPS_EXPR_H */
