/*
 * expr.c
 *	  Tokenizer, parser and evaluator of the alert-condition language.
 *
 * Why a language of our own: an alert rule is stored by one user and
 * evaluated later by whoever calls mlops.check_alerts() (or by the
 * scheduler).  If conditions were SQL, a rule could run any query with the
 * privileges of that caller.  A condition here can only read the metric
 * values the caller passes in, compute with them and compare them, so rules
 * are safe to evaluate anywhere.
 *
 * Grammar (lowest precedence first; keywords are case-insensitive):
 *
 *		condition  := or_expr END
 *		or_expr    := and_expr ( "or" and_expr )*
 *		and_expr   := not_expr ( "and" not_expr )*
 *		not_expr   := "not" not_expr | comparison
 *		comparison := sum [ ( "=" | "!=" | "<" | "<=" | ">" | ">=" ) sum ]
 *		sum        := term ( ( "+" | "-" ) term )*
 *		term       := unary ( ( "*" | "/" ) unary )*
 *		unary      := "-" unary | primary
 *		primary    := NUMBER | STRING | "true" | "false"
 *					| "missing" "(" NAME ")" | NAME | "(" or_expr ")"
 *
 * NAME is [A-Za-z_][A-Za-z0-9_.]* and not a keyword; STRING is single- or
 * double-quoted with backslash escapes; NUMBER is decimal with an optional
 * fraction and exponent.  Comparisons do not chain ("a < b < c" is an
 * error that says to use "and").
 *
 * Data flow: ExprParse tokenizes the whole text into an array, then a
 * recursive-descent parser builds the tree into a node array sized by the
 * token count (every node consumes at least one token), so one Expr is four
 * malloc'd blocks and a failed parse frees them all in one place.  Names and
 * unescaped string literals live in one pool of text length + token count
 * bytes.
 *
 * Limits keep hostile input cheap: the text is at most EXPR_MAX_LENGTH
 * bytes, nesting (parentheses, not, unary minus) at most EXPR_MAX_DEPTH
 * levels and the tree at most EXPR_MAX_NODES nodes, so both the parser's and
 * the evaluator's recursion are bounded.
 *
 * Types are checked when parsing wherever they are known: literals have a
 * type, metrics do not.  "1 + 'a'", "not 3" or a condition that is a
 * number are errors at parse time with a position.  At evaluation a metric
 * whose value does not fit how it is used counts as missing.
 *
 * Missing values: a metric the lookup does not find (or finds as JSON
 * null or NaN) and arithmetic on a missing value are "missing".  Any
 * comparison with a missing operand is false (so is one between values of
 * different types); a missing value used as a boolean is false;
 * missing(name) tests for it.  Therefore "not (x > 1)" is true when x is
 * missing, which is what the documentation spells out.
 *
 * Failed arithmetic is not "missing": a division by zero or a result beyond
 * the range of a double can make "not (a / b > 1)" true for no reason, so
 * the first one met while evaluating makes the whole condition not met, and
 * ExprEvaluateChecked reports it (operator and position) for the caller to
 * show.  Where the failure is certain it is refused when parsing: a
 * subexpression of literals only is computed then (1e308 * 10 is an
 * overflow error), and so is a divisor of literals only (x / 0, x / (1 - 1)
 * are division-by-zero errors).
 */
#include "monitor/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum TokenKind
{
	TK_END,
	TK_NUMBER,
	TK_STRING,
	TK_NAME,
	TK_TRUE,
	TK_FALSE,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_LPAREN,
	TK_RPAREN,
	TK_PLUS,
	TK_MINUS,
	TK_STAR,
	TK_SLASH,
	TK_EQ,
	TK_NE,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE
} TokenKind;

typedef struct Token
{
	TokenKind	kind;
	int			offset;			/* 0-based byte offset in the text */
	int			length;			/* bytes of source text */
	double		number;			/* TK_NUMBER */
	const char *str;			/* TK_STRING, TK_NAME: in the pool */
	size_t		strlen;
} Token;

typedef enum NodeKind
{
	N_NUMBER,
	N_STRING,
	N_BOOL,
	N_METRIC,
	N_MISSING,
	N_NEG,
	N_NOT,
	N_AND,
	N_OR,
	N_ADD,
	N_SUB,
	N_MUL,
	N_DIV,
	N_EQ,
	N_NE,
	N_LT,
	N_LE,
	N_GT,
	N_GE
} NodeKind;

/* What the parser knows about a node's type; ST_ANY for metric values. */
typedef enum StaticType
{
	ST_ANY,
	ST_NUMBER,
	ST_STRING,
	ST_BOOL
} StaticType;

typedef struct Node
{
	NodeKind	kind;
	StaticType	type;
	bool		constant;		/* no metric below: the value is known when parsing */
	int			offset;			/* 0-based byte offset of the operator (arithmetic) */
	int			left;			/* child node index, or -1 */
	int			right;
	double		number;
	bool		boolean;
	const char *str;			/* N_STRING: literal; N_METRIC/N_MISSING: name */
	size_t		len;
} Node;

struct Expr
{
	Node	   *nodes;
	int			nnodes;
	int			root;
	char	   *pool;
	const char **names;
	int			nnames;
};

typedef struct Parser
{
	const char *text;
	size_t		textlen;
	Token	   *tokens;
	int			ntokens;
	int			current;
	int			depth;
	Expr	   *expr;
	int			nodecap;
	size_t		poolused;
	ExprError  *error;
	bool		failed;
} Parser;

static bool Tokenize(Parser *p);
static bool ScanNumber(Parser *p, Token *t, size_t *pos);
static bool ScanString(Parser *p, Token *t, size_t *pos);
static bool ScanOperator(Parser *p, Token *t, size_t *pos);
static int	ParseOr(Parser *p);
static int	ParseAnd(Parser *p);
static int	ParseNot(Parser *p);
static int	ParseComparison(Parser *p);
static int	ParseSum(Parser *p);
static int	ParseTerm(Parser *p);
static int	ParseUnary(Parser *p);
static int	ParsePrimary(Parser *p);
static int	ParsePrefix(Parser *p, TokenKind opkind, NodeKind kind, StaticType type,
						int (*self) (Parser *), int (*next) (Parser *));
static void Fail(Parser *p, ExprErrorKind kind, int offset, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
static void Expected(Parser *p, const char *what);
static int	NewNode(Parser *p, NodeKind kind, StaticType type, int left, int right);
static bool CheckOperand(Parser *p, const Token *op, int node, StaticType want);
static const char *TypeName(StaticType type);
/* what one evaluation carries through the tree */
typedef struct EvalState
{
	const Expr *expr;
	ExprLookupFn lookup;
	void	   *context;
	ExprError  *error;			/* the first arithmetic failure, or NULL */
	bool		failed;
} EvalState;

static ExprValue EvalNode(EvalState *st, int index);
static ExprValue EvalArithmetic(EvalState *st, const Node *node);
static bool FoldConstant(Parser *p, int node);
static bool NoLookup(void *context, const char *name, ExprValue *out);
static bool CompareValues(NodeKind kind, ExprValue a, ExprValue b);
static ExprValue LookupMetric(const char *name, ExprLookupFn lookup, void *context);

/*
 * ExprParse parses a condition; see expr.h.
 */
Expr *
ExprParse(const char *text, size_t textlen, ExprError *error)
{
	Parser		p;
	int			root;

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.textlen = textlen;
	p.error = error;
	memset(error, 0, sizeof(ExprError));

	if (textlen > EXPR_MAX_LENGTH)
	{
		Fail(&p, EXPR_ERROR_LIMIT, EXPR_MAX_LENGTH, "condition is too long: %zu bytes, the limit is %d",
			 textlen, EXPR_MAX_LENGTH);
		return NULL;
	}

	p.expr = calloc(1, sizeof(Expr));
	p.tokens = calloc(textlen + 1, sizeof(Token));
	if (p.expr)
	{
		p.expr->pool = malloc(2 * textlen + 2);
		p.expr->nodes = calloc(textlen + 1, sizeof(Node));
		p.expr->names = calloc(textlen + 1, sizeof(char *));
	}
	if (!p.expr || !p.tokens || !p.expr->pool || !p.expr->nodes || !p.expr->names)
	{
		Fail(&p, EXPR_ERROR_MEMORY, -1, "out of memory");
		goto fail;
	}
	p.nodecap = (int) textlen + 1;

	if (!Tokenize(&p))
		goto fail;

	root = ParseOr(&p);
	if (p.failed)
		goto fail;
	if (p.tokens[p.current].kind != TK_END)
	{
		TokenKind	k = p.tokens[p.current].kind;

		if (k >= TK_EQ && k <= TK_GE)
			Fail(&p, EXPR_ERROR_SYNTAX, p.tokens[p.current].offset,
				 "syntax error at position %d: comparisons cannot be chained, join them with \"and\"",
				 p.tokens[p.current].offset + 1);
		else
			Expected(&p, "an operator or end of condition");
		goto fail;
	}
	if (p.expr->nodes[root].type != ST_ANY && p.expr->nodes[root].type != ST_BOOL)
	{
		Fail(&p, EXPR_ERROR_TYPE, 0, "type error at position 1: a condition must be boolean, found %s",
			 TypeName(p.expr->nodes[root].type));
		goto fail;
	}
	p.expr->root = root;
	free(p.tokens);
	return p.expr;

fail:
	free(p.tokens);
	ExprFree(p.expr);
	return NULL;
}

/*
 * ExprFree releases a parsed condition.
 */
void
ExprFree(Expr *expr)
{
	if (expr == NULL)
		return;
	free(expr->nodes);
	free(expr->pool);
	free(expr->names);
	free(expr);
}

/*
 * ExprMetricCount returns the number of distinct metric names in expr.
 */
int
ExprMetricCount(const Expr *expr)
{
	return expr->nnames;
}

/*
 * ExprMetricName returns the i-th distinct metric name of expr.
 */
const char *
ExprMetricName(const Expr *expr, int i)
{
	if (i < 0 || i >= expr->nnames)
		return NULL;
	return expr->names[i];
}

/*
 * ExprEvaluate returns whether expr holds, reading metrics through lookup.
 */
bool
ExprEvaluate(const Expr *expr, ExprLookupFn lookup, void *context)
{
	return ExprEvaluateChecked(expr, lookup, context, NULL) == 1;
}

/*
 * ExprEvaluateChecked evaluates expr; see expr.h.
 */
int
ExprEvaluateChecked(const Expr *expr, ExprLookupFn lookup, void *context, ExprError *error)
{
	EvalState	st;
	ExprError	local;
	ExprValue	v;

	st.expr = expr;
	st.lookup = lookup;
	st.context = context;
	st.error = error ? error : &local;
	st.failed = false;
	memset(st.error, 0, sizeof(ExprError));
	v = EvalNode(&st, expr->root);
	if (st.failed)
		return -1;
	return (v.type == EXPR_BOOL && v.boolean) ? 1 : 0;
}

/*
 * Fail records the first error of a parse: message and 1-based position
 * (offset -1 means no position).
 */
static void
Fail(Parser *p, ExprErrorKind kind, int offset, const char *fmt,...)
{
	va_list		ap;

	if (p->failed)
		return;
	p->failed = true;
	p->error->kind = kind;
	p->error->position = offset < 0 ? 0 : offset + 1;
	va_start(ap, fmt);
	vsnprintf(p->error->message, sizeof(p->error->message), fmt, ap);
	va_end(ap);
}

/*
 * Expected fails with "expected <what>, found <current token>".
 */
static void
Expected(Parser *p, const char *what)
{
	const Token *t = &p->tokens[p->current];
	char		found[48];

	if (t->kind == TK_END)
		snprintf(found, sizeof(found), "end of condition");
	else if (t->length > 20)
		snprintf(found, sizeof(found), "\"%.20s...\"", p->text + t->offset);
	else
		snprintf(found, sizeof(found), "\"%.*s\"", t->length, p->text + t->offset);
	Fail(p, EXPR_ERROR_SYNTAX, t->offset, "syntax error at position %d: expected %s, found %s",
		 t->offset + 1, what, found);
}

/*
 * PoolAdd copies len bytes into the expression's string pool and returns
 * the NUL-terminated copy.
 */
static char *
PoolAdd(Parser *p, const char *s, size_t len)
{
	char	   *dst = p->expr->pool + p->poolused;

	memcpy(dst, s, len);
	dst[len] = '\0';
	p->poolused += len + 1;
	return dst;
}

/*
 * KeywordKind returns the keyword token kind of a word, or TK_NAME.
 */
static TokenKind
KeywordKind(const char *s, size_t len)
{
	static const struct
	{
		const char *word;
		TokenKind	kind;
	}			keywords[] =
	{
		{"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT},
		{"true", TK_TRUE}, {"false", TK_FALSE}
	};

	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strlen(keywords[i].word) == len && strncasecmp(keywords[i].word, s, len) == 0)
			return keywords[i].kind;
	return TK_NAME;
}

/*
 * Tokenize splits the whole text into p->tokens, ending with TK_END.
 */
static bool
Tokenize(Parser *p)
{
	size_t		i = 0;
	const char *s = p->text;
	size_t		n = p->textlen;

	for (;;)
	{
		Token	   *t = &p->tokens[p->ntokens];
		size_t		start;
		unsigned char c;
		bool		ok;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		start = i;
		t->offset = (int) i;
		if (i >= n)
		{
			t->kind = TK_END;
			t->length = 0;
			p->ntokens++;
			return true;
		}
		c = (unsigned char) s[i];

		if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char) s[i + 1])))
			ok = ScanNumber(p, t, &i);
		else if (isalpha(c) || c == '_')
		{
			while (i < n && (isalnum((unsigned char) s[i]) || s[i] == '_' || s[i] == '.'))
				i++;
			if (i - start > EXPR_MAX_NAME)
			{
				Fail(p, EXPR_ERROR_LIMIT, (int) start, "syntax error at position %zu: name is longer than %d bytes",
					 start + 1, EXPR_MAX_NAME);
				return false;
			}
			t->kind = KeywordKind(s + start, i - start);
			if (t->kind == TK_NAME)
			{
				t->str = PoolAdd(p, s + start, i - start);
				t->strlen = i - start;
			}
			ok = true;
		}
		else if (c == '"' || c == '\'')
			ok = ScanString(p, t, &i);
		else
			ok = ScanOperator(p, t, &i);
		if (!ok)
			return false;
		t->length = (int) (i - start);
		p->ntokens++;
	}
}

/*
 * ScanNumber reads the number starting at *pos into t (decimal, optional
 * fraction and exponent, finite) and advances *pos past it.
 */
static bool
ScanNumber(Parser *p, Token *t, size_t *pos)
{
	const char *s = p->text;
	size_t		n = p->textlen;
	size_t		start = *pos;
	size_t		i = start;
	char		buf[64];

	while (i < n && isdigit((unsigned char) s[i]))
		i++;
	if (i < n && s[i] == '.')
	{
		i++;
		while (i < n && isdigit((unsigned char) s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		e = i + 1;

		if (e < n && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e >= n || !isdigit((unsigned char) s[e]))
		{
			Fail(p, EXPR_ERROR_SYNTAX, (int) start, "syntax error at position %zu: invalid number, an exponent needs digits",
				 start + 1);
			return false;
		}
		i = e;
		while (i < n && isdigit((unsigned char) s[i]))
			i++;
	}
	if (i < n && (isalpha((unsigned char) s[i]) || s[i] == '_' || s[i] == '.'))
	{
		Fail(p, EXPR_ERROR_SYNTAX, (int) start, "syntax error at position %zu: invalid number \"%.*s\"",
			 start + 1, (int) (i - start + 1 > 20 ? 20 : i - start + 1), s + start);
		return false;
	}
	if (i - start >= sizeof(buf))
	{
		Fail(p, EXPR_ERROR_SYNTAX, (int) start, "syntax error at position %zu: number is too long", start + 1);
		return false;
	}
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	t->kind = TK_NUMBER;
	t->number = strtod(buf, NULL);
	if (!isfinite(t->number))
	{
		Fail(p, EXPR_ERROR_SYNTAX, (int) start, "syntax error at position %zu: number \"%s\" is out of range",
			 start + 1, buf);
		return false;
	}
	*pos = i;
	return true;
}

/*
 * ScanString reads the quoted string starting at *pos into t, unescaping
 * it into the pool, and advances *pos past the closing quote.
 */
static bool
ScanString(Parser *p, Token *t, size_t *pos)
{
	const char *s = p->text;
	size_t		n = p->textlen;
	size_t		start = *pos;
	size_t		i = start + 1;
	char		quote = s[start];
	char	   *dst = p->expr->pool + p->poolused;
	size_t		len = 0;

	while (i < n && s[i] != quote)
	{
		if (s[i] == '\\' && i + 1 < n)
			i++;
		dst[len++] = s[i++];
	}
	if (i >= n)
	{
		Fail(p, EXPR_ERROR_SYNTAX, (int) start, "syntax error at position %zu: unterminated string", start + 1);
		return false;
	}
	i++;
	dst[len] = '\0';
	p->poolused += len + 1;
	t->kind = TK_STRING;
	t->str = dst;
	t->strlen = len;
	*pos = i;
	return true;
}

/*
 * ScanOperator reads the operator or parenthesis at *pos into t and
 * advances *pos past it; any other character is a syntax error.
 */
static bool
ScanOperator(Parser *p, Token *t, size_t *pos)
{
	static const struct
	{
		const char *text;
		TokenKind	kind;
	}			ops[] =
	{
		/* two-byte operators first */
		{"!=", TK_NE}, {"<=", TK_LE}, {">=", TK_GE},
		{"(", TK_LPAREN}, {")", TK_RPAREN}, {"+", TK_PLUS}, {"-", TK_MINUS},
		{"*", TK_STAR}, {"/", TK_SLASH}, {"=", TK_EQ}, {"<", TK_LT}, {">", TK_GT}
	};
	const char *s = p->text;
	size_t		n = p->textlen;
	size_t		i = *pos;
	unsigned char c = (unsigned char) s[i];

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
	{
		size_t		len = strlen(ops[k].text);

		if (i + len <= n && memcmp(s + i, ops[k].text, len) == 0)
		{
			t->kind = ops[k].kind;
			*pos = i + len;
			return true;
		}
	}
	if (isprint(c))
		Fail(p, EXPR_ERROR_SYNTAX, (int) i, "syntax error at position %zu: unexpected character \"%c\"%s",
			 i + 1, c, c == '!' ? ", did you mean \"!=\"" : "");
	else
		Fail(p, EXPR_ERROR_SYNTAX, (int) i, "syntax error at position %zu: unexpected byte 0x%02x",
			 i + 1, c);
	return false;
}

/*
 * NewNode appends a node to the tree and returns its index, or -1 after
 * failing when the tree is full.
 */
static int
NewNode(Parser *p, NodeKind kind, StaticType type, int left, int right)
{
	Node	   *node;

	if (p->expr->nnodes >= EXPR_MAX_NODES || p->expr->nnodes >= p->nodecap)
	{
		Fail(p, EXPR_ERROR_LIMIT, p->tokens[p->current].offset,
			 "condition has too many terms at position %d: the limit is %d",
			 p->tokens[p->current].offset + 1, EXPR_MAX_NODES);
		return -1;
	}
	node = &p->expr->nodes[p->expr->nnodes];
	memset(node, 0, sizeof(Node));
	node->kind = kind;
	node->type = type;
	node->left = left;
	node->right = right;
	/* literals are constant, metrics are not, operators when their operands are */
	node->constant = (kind == N_NUMBER || kind == N_STRING || kind == N_BOOL) ||
		(left >= 0 && kind != N_METRIC && kind != N_MISSING &&
		 p->expr->nodes[left].constant && (right < 0 || p->expr->nodes[right].constant));
	return p->expr->nnodes++;
}

/*
 * TypeName names a static type for messages.
 */
static const char *
TypeName(StaticType type)
{
	switch (type)
	{
		case ST_NUMBER:
			return "a number";
		case ST_STRING:
			return "a string";
		case ST_BOOL:
			return "a boolean";
		case ST_ANY:
			break;
	}
	return "a metric";
}

/*
 * CheckOperand fails unless the node's static type is unknown or want.
 */
static bool
CheckOperand(Parser *p, const Token *op, int node, StaticType want)
{
	StaticType	have = p->expr->nodes[node].type;

	if (have == ST_ANY || have == want)
		return true;
	Fail(p, EXPR_ERROR_TYPE, op->offset, "type error at position %d: \"%.*s\" needs %s operands, found %s",
		 op->offset + 1, op->length, p->text + op->offset,
		 want == ST_NUMBER ? "number" : "boolean", TypeName(have));
	return false;
}

/*
 * Enter counts one level of nesting and fails beyond EXPR_MAX_DEPTH.
 */
static bool
Enter(Parser *p)
{
	if (++p->depth > EXPR_MAX_DEPTH)
	{
		Fail(p, EXPR_ERROR_LIMIT, p->tokens[p->current].offset,
			 "condition is nested too deeply at position %d: the limit is %d levels",
			 p->tokens[p->current].offset + 1, EXPR_MAX_DEPTH);
		return false;
	}
	return true;
}

/*
 * ParseBinaryChain parses operand ( op operand )* for the operators in
 * kinds[] mapped to nodes[], with operands of type want (ST_ANY: no check)
 * and results of type result.
 */
static int
ParseBinaryChain(Parser *p, int (*operand) (Parser *),
				 const TokenKind *kinds, const NodeKind *nodes, int nops,
				 StaticType want, StaticType result)
{
	int			left = operand(p);

	while (!p->failed)
	{
		const Token *op = &p->tokens[p->current];
		int			k;
		int			right;

		for (k = 0; k < nops; k++)
			if (op->kind == kinds[k])
				break;
		if (k == nops)
			break;
		p->current++;
		right = operand(p);
		if (p->failed)
			break;
		if (!CheckOperand(p, op, left, want) || !CheckOperand(p, op, right, want))
			break;
		left = NewNode(p, nodes[k], result, left, right);
		if (left < 0)
			break;
		p->expr->nodes[left].offset = op->offset;
		if (!FoldConstant(p, left))
			break;
	}
	return p->failed ? -1 : left;
}

/* ParseOr parses or_expr. */
static int
ParseOr(Parser *p)
{
	static const TokenKind kinds[] = {TK_OR};
	static const NodeKind nodes[] = {N_OR};

	return ParseBinaryChain(p, ParseAnd, kinds, nodes, 1, ST_BOOL, ST_BOOL);
}

/* ParseAnd parses and_expr. */
static int
ParseAnd(Parser *p)
{
	static const TokenKind kinds[] = {TK_AND};
	static const NodeKind nodes[] = {N_AND};

	return ParseBinaryChain(p, ParseNot, kinds, nodes, 1, ST_BOOL, ST_BOOL);
}

/* ParseNot parses not_expr. */
static int
ParseNot(Parser *p)
{
	return ParsePrefix(p, TK_NOT, N_NOT, ST_BOOL, ParseNot, ParseComparison);
}

/* ParseComparison parses comparison: at most one comparison operator. */
static int
ParseComparison(Parser *p)
{
	static const TokenKind kinds[] = {TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE};
	static const NodeKind nodes[] = {N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE};
	int			left = ParseSum(p);
	const Token *op;
	int			k;
	int			right;
	StaticType	lt,
				rt;

	if (p->failed)
		return -1;
	op = &p->tokens[p->current];
	for (k = 0; k < 6; k++)
		if (op->kind == kinds[k])
			break;
	if (k == 6)
		return left;
	p->current++;
	right = ParseSum(p);
	if (p->failed)
		return -1;
	lt = p->expr->nodes[left].type;
	rt = p->expr->nodes[right].type;
	if (lt != ST_ANY && rt != ST_ANY && lt != rt)
	{
		Fail(p, EXPR_ERROR_TYPE, op->offset, "type error at position %d: cannot compare %s with %s",
			 op->offset + 1, TypeName(lt), TypeName(rt));
		return -1;
	}
	if (nodes[k] != N_EQ && nodes[k] != N_NE && (lt == ST_BOOL || rt == ST_BOOL))
	{
		Fail(p, EXPR_ERROR_TYPE, op->offset, "type error at position %d: \"%.*s\" cannot order booleans, use \"=\" or \"!=\"",
			 op->offset + 1, op->length, p->text + op->offset);
		return -1;
	}
	return NewNode(p, nodes[k], ST_BOOL, left, right);
}

/* ParseSum parses sum. */
static int
ParseSum(Parser *p)
{
	static const TokenKind kinds[] = {TK_PLUS, TK_MINUS};
	static const NodeKind nodes[] = {N_ADD, N_SUB};

	return ParseBinaryChain(p, ParseTerm, kinds, nodes, 2, ST_NUMBER, ST_NUMBER);
}

/* ParseTerm parses term. */
static int
ParseTerm(Parser *p)
{
	static const TokenKind kinds[] = {TK_STAR, TK_SLASH};
	static const NodeKind nodes[] = {N_MUL, N_DIV};

	return ParseBinaryChain(p, ParseUnary, kinds, nodes, 2, ST_NUMBER, ST_NUMBER);
}

/* ParseUnary parses unary. */
static int
ParseUnary(Parser *p)
{
	return ParsePrefix(p, TK_MINUS, N_NEG, ST_NUMBER, ParseUnary, ParsePrimary);
}

/*
 * ParsePrefix parses "op self" as a node of the given kind whose operand
 * must have the given type, or, without the operator, what next parses.
 * Every prefix operator counts as a level of nesting.
 */
static int
ParsePrefix(Parser *p, TokenKind opkind, NodeKind kind, StaticType type,
			int (*self) (Parser *), int (*next) (Parser *))
{
	const Token *op = &p->tokens[p->current];
	int			operand;

	if (op->kind != opkind)
		return next(p);
	if (!Enter(p))
		return -1;
	p->current++;
	operand = self(p);
	p->depth--;
	if (p->failed || !CheckOperand(p, op, operand, type))
		return -1;
	operand = NewNode(p, kind, type, operand, -1);
	if (operand >= 0)
		p->expr->nodes[operand].offset = op->offset;
	return operand;
}

/*
 * AddMetricName records a metric name once and returns the pooled copy.
 */
static const char *
AddMetricName(Parser *p, const char *name)
{
	for (int i = 0; i < p->expr->nnames; i++)
		if (strcmp(p->expr->names[i], name) == 0)
			return p->expr->names[i];
	p->expr->names[p->expr->nnames++] = name;
	return name;
}

/* ParsePrimary parses primary. */
static int
ParsePrimary(Parser *p)
{
	const Token *t = &p->tokens[p->current];
	int			node;

	switch (t->kind)
	{
		case TK_NUMBER:
			node = NewNode(p, N_NUMBER, ST_NUMBER, -1, -1);
			if (node >= 0)
				p->expr->nodes[node].number = t->number;
			p->current++;
			return node;
		case TK_STRING:
			node = NewNode(p, N_STRING, ST_STRING, -1, -1);
			if (node >= 0)
			{
				p->expr->nodes[node].str = t->str;
				p->expr->nodes[node].len = t->strlen;
			}
			p->current++;
			return node;
		case TK_TRUE:
		case TK_FALSE:
			node = NewNode(p, N_BOOL, ST_BOOL, -1, -1);
			if (node >= 0)
				p->expr->nodes[node].boolean = (t->kind == TK_TRUE);
			p->current++;
			return node;
		case TK_NAME:
			if (strcasecmp(t->str, "missing") == 0 &&
				p->tokens[p->current + 1].kind == TK_LPAREN)
			{
				const Token *name;

				p->current += 2;
				name = &p->tokens[p->current];
				if (name->kind != TK_NAME)
				{
					Expected(p, "a metric name");
					return -1;
				}
				p->current++;
				if (p->tokens[p->current].kind != TK_RPAREN)
				{
					Expected(p, "\")\"");
					return -1;
				}
				p->current++;
				node = NewNode(p, N_MISSING, ST_BOOL, -1, -1);
				if (node >= 0)
				{
					p->expr->nodes[node].str = AddMetricName(p, name->str);
					p->expr->nodes[node].len = name->strlen;
				}
				return node;
			}
			node = NewNode(p, N_METRIC, ST_ANY, -1, -1);
			if (node >= 0)
			{
				p->expr->nodes[node].str = AddMetricName(p, t->str);
				p->expr->nodes[node].len = t->strlen;
			}
			p->current++;
			return node;
		case TK_LPAREN:
			if (!Enter(p))
				return -1;
			p->current++;
			node = ParseOr(p);
			p->depth--;
			if (p->failed)
				return -1;
			if (p->tokens[p->current].kind != TK_RPAREN)
			{
				Expected(p, "\")\" or an operator");
				return -1;
			}
			p->current++;
			return node;
		default:
			Expected(p, "a number, string, true, false, metric name, missing(name) or \"(\"");
			return -1;
	}
}

/*
 * FoldConstant checks a new arithmetic node where its outcome is already
 * known: a divisor of literals only that is 0, or a subexpression of
 * literals only that overflows, fails the parse.  Returns false after
 * failing.
 */
static bool
FoldConstant(Parser *p, int index)
{
	const Node *node = &p->expr->nodes[index];
	EvalState	st;
	ExprError	err;
	ExprValue	v;

	memset(&st, 0, sizeof(st));
	st.expr = p->expr;
	st.lookup = NoLookup;
	st.error = &err;
	if (node->kind == N_DIV && p->expr->nodes[node->right].constant)
	{
		v = EvalNode(&st, node->right);
		if (!st.failed && v.type == EXPR_NUMBER && v.num == 0.0)
		{
			Fail(p, EXPR_ERROR_DIVISION, node->offset,
				 "division by zero at position %d: the divisor is always 0", node->offset + 1);
			return false;
		}
	}
	if (!node->constant)
		return true;
	(void) EvalNode(&st, index);
	if (st.failed)
	{
		Fail(p, err.kind, err.position - 1, "%s", err.message);
		return false;
	}
	return true;
}

/*
 * NoLookup is the lookup of constant folding: there are no metrics.
 */
static bool
NoLookup(void *context, const char *name, ExprValue *out)
{
	(void) context;
	(void) name;
	(void) out;
	return false;
}

/*
 * EvalNode computes the value of one node.
 */
static ExprValue
EvalNode(EvalState *st, int index)
{
	const Node *node = &st->expr->nodes[index];
	ExprValue	result;
	ExprValue	a,
				b;

	memset(&result, 0, sizeof(result));
	result.type = EXPR_MISSING;

	switch (node->kind)
	{
		case N_NUMBER:
			result.type = EXPR_NUMBER;
			result.num = node->number;
			break;
		case N_STRING:
			result.type = EXPR_STRING;
			result.str = node->str;
			result.len = node->len;
			break;
		case N_BOOL:
			result.type = EXPR_BOOL;
			result.boolean = node->boolean;
			break;
		case N_METRIC:
			result = LookupMetric(node->str, st->lookup, st->context);
			break;
		case N_MISSING:
			a = LookupMetric(node->str, st->lookup, st->context);
			result.type = EXPR_BOOL;
			result.boolean = (a.type == EXPR_MISSING);
			break;
		case N_NEG:
			a = EvalNode(st, node->left);
			if (a.type == EXPR_NUMBER)
			{
				result.type = EXPR_NUMBER;
				result.num = -a.num;
			}
			break;
		case N_NOT:
			a = EvalNode(st, node->left);
			result.type = EXPR_BOOL;
			result.boolean = !(a.type == EXPR_BOOL && a.boolean);
			break;
		case N_AND:
		case N_OR:
			a = EvalNode(st, node->left);
			result.type = EXPR_BOOL;
			result.boolean = (a.type == EXPR_BOOL && a.boolean);
			if (result.boolean == (node->kind == N_AND))
			{
				b = EvalNode(st, node->right);
				result.boolean = (b.type == EXPR_BOOL && b.boolean);
			}
			break;
		case N_ADD:
		case N_SUB:
		case N_MUL:
		case N_DIV:
			result = EvalArithmetic(st, node);
			break;
		case N_EQ:
		case N_NE:
		case N_LT:
		case N_LE:
		case N_GT:
		case N_GE:
			a = EvalNode(st, node->left);
			b = EvalNode(st, node->right);
			result.type = EXPR_BOOL;
			result.boolean = CompareValues(node->kind, a, b);
			break;
	}
	return result;
}

/*
 * EvalArithmetic computes + - * / of two numbers: missing when an operand
 * is missing or not a number; a division by zero or a result beyond the
 * range of a double records the first failure in st (and is missing).
 */
static ExprValue
EvalArithmetic(EvalState *st, const Node *node)
{
	ExprValue	result;
	ExprValue	a = EvalNode(st, node->left);
	ExprValue	b = EvalNode(st, node->right);
	double		r;
	const char *op;

	memset(&result, 0, sizeof(result));
	result.type = EXPR_MISSING;
	if (a.type != EXPR_NUMBER || b.type != EXPR_NUMBER)
		return result;
	switch (node->kind)
	{
		case N_ADD:
			r = a.num + b.num;
			op = "+";
			break;
		case N_SUB:
			r = a.num - b.num;
			op = "-";
			break;
		case N_MUL:
			r = a.num * b.num;
			op = "*";
			break;
		default:
			op = "/";
			if (b.num == 0.0)
			{
				if (!st->failed)
				{
					st->failed = true;
					st->error->kind = EXPR_ERROR_DIVISION;
					st->error->position = node->offset + 1;
					snprintf(st->error->message, sizeof(st->error->message),
							 "division by zero at position %d", node->offset + 1);
				}
				return result;
			}
			r = a.num / b.num;
			break;
	}
	if (!isfinite(r))
	{
		if (!st->failed)
		{
			st->failed = true;
			st->error->kind = EXPR_ERROR_OVERFLOW;
			st->error->position = node->offset + 1;
			snprintf(st->error->message, sizeof(st->error->message),
					 "the result of \"%s\" at position %d is out of range", op, node->offset + 1);
		}
		return result;
	}
	result.type = EXPR_NUMBER;
	result.num = r;
	return result;
}

/*
 * LookupMetric reads one metric through the callback; not found and NaN
 * both come back as missing.
 */
static ExprValue
LookupMetric(const char *name, ExprLookupFn lookup, void *context)
{
	ExprValue	v;

	memset(&v, 0, sizeof(v));
	if (!lookup(context, name, &v) || (v.type == EXPR_NUMBER && isnan(v.num)))
		v.type = EXPR_MISSING;
	return v;
}

/*
 * CompareValues applies a comparison operator; it is false whenever an
 * operand is missing or the operands' types differ, and booleans only
 * compare for equality.
 */
static bool
CompareValues(NodeKind kind, ExprValue a, ExprValue b)
{
	int			cmp;

	if (a.type == EXPR_MISSING || b.type == EXPR_MISSING || a.type != b.type)
		return false;
	switch (a.type)
	{
		case EXPR_NUMBER:
			cmp = (a.num > b.num) - (a.num < b.num);
			break;
		case EXPR_STRING:
			cmp = memcmp(a.str, b.str, a.len < b.len ? a.len : b.len);
			if (cmp == 0)
				cmp = (a.len > b.len) - (a.len < b.len);
			else
				cmp = cmp > 0 ? 1 : -1;
			break;
		case EXPR_BOOL:
			if (kind != N_EQ && kind != N_NE)
				return false;
			cmp = (a.boolean != b.boolean);
			break;
		default:
			return false;
	}
	switch (kind)
	{
		case N_EQ:
			return cmp == 0;
		case N_NE:
			return cmp != 0;
		case N_LT:
			return cmp < 0;
		case N_LE:
			return cmp <= 0;
		case N_GT:
			return cmp > 0;
		case N_GE:
			return cmp >= 0;
		default:
			return false;
	}
}
