/*
 * train.h
 *		Training XGBoost models from SQL (mlops.train) and its progress view.
 */
#ifndef MLOPS_TRAIN_H
#define MLOPS_TRAIN_H

extern void TrainInit(void);

#endif							/* MLOPS_TRAIN_H */
