/*
 * train_progress.c
 *		Progress of running trainings in shared memory, and the
 *		mlops.training_progress view over it.
 *
 * When mlops is preloaded, TrainInit requests an array of one ProgressSlot
 * per backend (indexed by backend id).  The training backend writes its own
 * slot under the slot's spinlock - the model, round, total rounds, start
 * time and last evaluation - and frees it however the training ends
 * (TrainBoostWithProgress); mlops_training_progress copies every slot under
 * its spinlock and returns the busy ones.  Without preloading there is no
 * array: trainings publish nothing and the view says preloading is needed.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "train/train.h"
#include "train/train_int.h"

PG_FUNCTION_INFO_V1(mlops_training_progress);

/* A progress slot in shared memory */
typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0 = free */
	char		model[NAMEDATALEN * 2];
	int			round;
	int			total_rounds;
	TimestampTz started;
	char		last_metric[128];
} ProgressSlot;

static ProgressSlot *progress_slots = NULL;
static int	progress_nslots = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void TrainShmemRequest(void);
static void TrainShmemStartup(void);

/*
 * TrainInit requests the progress array in shared memory; it does nothing
 * unless mlops is being preloaded.
 */
void
TrainInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = TrainShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = TrainShmemStartup;
}

/* TrainShmemRequest reserves one progress slot per backend. */
static void
TrainShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(ProgressSlot)));
}

/* TrainShmemStartup attaches to (or creates) the progress array. */
static void
TrainShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_slots = ShmemInitStruct("mlops training progress",
									 mul_size(MaxBackends, sizeof(ProgressSlot)),
									 &found);
	progress_nslots = MaxBackends;
	if (!found)
	{
		for (int i = 0; i < MaxBackends; i++)
		{
			SpinLockInit(&progress_slots[i].mutex);
			progress_slots[i].pid = 0;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* MySlot returns this backend's progress slot, NULL without shared memory. */
static ProgressSlot *
MySlot(void)
{
	if (progress_slots == NULL || MyBackendId < 1 || MyBackendId > progress_nslots)
		return NULL;
	return &progress_slots[MyBackendId - 1];
}

/* TrainProgressBegin publishes the start of a training. */
void
TrainProgressBegin(const char *model, int total)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = MyProcPid;
	strlcpy(slot->model, model, sizeof(slot->model));
	slot->round = 0;
	slot->total_rounds = total;
	slot->started = GetCurrentTimestamp();
	slot->last_metric[0] = '\0';
	SpinLockRelease(&slot->mutex);
}

/*
 * TrainProgressUpdate publishes a finished round and its metric, if
 * evaluated.
 */
void
TrainProgressUpdate(int round, const char *metric)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->round = round;
	if (metric != NULL)
		strlcpy(slot->last_metric, metric, sizeof(slot->last_metric));
	SpinLockRelease(&slot->mutex);
}

/* TrainProgressEnd frees this backend's slot. */
void
TrainProgressEnd(void)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = 0;
	SpinLockRelease(&slot->mutex);
}

/*
 * mlops_training_progress implements mlops.training_progress(): one row per
 * training running in the cluster (pid, model, round, total_rounds,
 * elapsed, last_metric).
 */
Datum
mlops_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (progress_slots == NULL)
		MlopsRequirePreload("mlops.training_progress");
	for (int i = 0; i < progress_nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		SpinLockAcquire(&progress_slots[i].mutex);
		memcpy(&copy, &progress_slots[i], sizeof(ProgressSlot));
		SpinLockRelease(&progress_slots[i].mutex);
		if (copy.pid == 0)
			continue;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = CStringGetTextDatum(copy.model);
		values[2] = Int32GetDatum(copy.round);
		values[3] = Int32GetDatum(copy.total_rounds);
		values[4] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(GetCurrentTimestamp()),
										TimestampTzGetDatum(copy.started));
		values[5] = CStringGetTextDatum(copy.last_metric);
		nulls[5] = copy.last_metric[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
