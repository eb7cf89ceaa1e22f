/*-------------------------------------------------------------------------
 *
 * registry.h
 *	  The face of src/registry/: the registry's change trigger (registry.c)
 *	  and model import/export (model_import.c, with the pure reader of
 *	  XGBoost's category codes model_categories.c).  The registry's rules live in
 *	  SQL (sql/install/30_registry.sql); resolving a model reference is in
 *	  common/modelref.c because every subsystem needs it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_REGISTRY_H
#define MLOPS_REGISTRY_H

#include "common/common.h"

#endif							/* MLOPS_REGISTRY_H */
