/*-------------------------------------------------------------------------
 *
 * mlops.c
 *	  Library entry point: _PG_init, and nothing else.
 *
 * _PG_init only delegates: each subsystem registers its settings, shared
 * memory requests, hooks and background workers in its own XxxInit().  No
 * XGBoost or jansson call may happen here: this code runs in the postmaster,
 * and libgomp's thread pool does not survive fork() (a child that later uses
 * XGBoost hangs), while jansson seeds its hash function on first use.
 *
 * How mlops writes its own tables as their owner is described in
 * common/security.c; the map of the source tree is in CONTRIBUTING.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "common/common.h"
#include "drift/drift.h"
#include "serve/serve.h"
#include "train/train.h"

#include "sched/sched.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init registers every subsystem.  Settings are registered in any case
 * (so a session-level LOAD still knows them); shared memory and background
 * workers only when loaded through shared_preload_libraries.
 */
void
_PG_init(void)
{
	mlops_preloaded = process_shared_preload_libraries_in_progress;

	MlopsGucInit();
	MlopsSecurityInit();
	DriftInit();
	MlopsSchemaVersionInit();
	TrainInit();
	ModelCacheInit();
	PredictionStatsInit();
	RoutingInit();

	SchedulerInit();
}
