/*
 * model_categories.h
 *	  The category codes an XGBoost model's categorical splits use, read from
 *	  a model modelcheck has validated (see model_categories.c).
 *
 * Pure C (jansson, libc); no PostgreSQL headers, so that model_import.c,
 * which includes PostgreSQL's builtins.h, can use it without including
 * jansson.h (whose json_object clashes with the SQL function's).
 */
#ifndef MLOPS_MODEL_CATEGORIES_H
#define MLOPS_MODEL_CATEGORIES_H

#include <stdint.h>

struct json_t;

extern int	ModelCategoryMax(struct json_t *model, int64_t num_feature, int64_t *max_code);

#endif							/* MLOPS_MODEL_CATEGORIES_H */
