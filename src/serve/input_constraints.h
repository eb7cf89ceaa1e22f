/*-------------------------------------------------------------------------
 *
 * input_constraints.h
 *	  Enforcement of mlops.set_input_constraints by predict and friends
 *	  (input_constraints.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_INPUT_CONSTRAINTS_H
#define MLOPS_INPUT_CONSTRAINTS_H

#include "utils/jsonb.h"

extern void InputConstraintsCheck(const char *model, JsonbContainer *features, int instance);

#endif							/* MLOPS_INPUT_CONSTRAINTS_H */
