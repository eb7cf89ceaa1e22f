/*
 * xgb_int.h
 *		What the files of src/xgb/ that call libxgboost share: handles owned
 *		by memory contexts and the __array_interface__ of a float matrix
 *		(xgb.c), used by the iterator interface (xgb_iter.c).  Not included
 *		outside src/xgb/ (xgb.h is the subsystem's face).
 */
#ifndef MLOPS_XGB_INT_H
#define MLOPS_XGB_INT_H

#include "postgres.h"

#include "utils/memutils.h"

#include "xgb/xgb.h"

/* a memory-context reset callback with the handle it frees */
typedef struct XgbHandleCallback
{
	MemoryContextCallback cb;
	void	   *handle;
} XgbHandleCallback;

extern XgbHandleCallback *RegisterHandle(MemoryContext owner, MemoryContextCallbackFunction func);
extern void FreeDMatrixCallback(void *arg);
extern void ArrayInterface(char *buf, size_t size, const float *data,
						   bst_ulong nrow, bst_ulong ncol);

#endif							/* MLOPS_XGB_INT_H */
