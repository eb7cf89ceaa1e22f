/*
 * one_row.c - the XGBoost C API's one-row prediction limit, the yardstick
 * of per-row SQL predictions in bench/train_serve.py.
 *
 * Usage: one_row MODEL.json NFEATURES ITERATIONS [proxy]
 * Loads the model, then predicts one row in place on one thread ITERATIONS
 * times and prints microseconds per call.  Without "proxy" each call lets
 * XGBoost build its own proxy DMatrix, as the Python package's
 * inplace_predict does; with "proxy" one proxy is reused, as mlops.predict
 * does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <xgboost/c_api.h>

#define CHECK(call) \
	do { if ((call) != 0) { fprintf(stderr, "%s: %s\n", #call, XGBGetLastError()); return 1; } } while (0)

int
main(int argc, char **argv)
{
	BoosterHandle booster;
	int			nf;
	long		iters;
	float	   *row;
	char		ai[256];
	struct timespec t0, t1;
	double		sink = 0;

	DMatrixHandle proxy = NULL;

	if (argc != 4 && argc != 5)
	{
		fprintf(stderr, "usage: one_row MODEL.json NFEATURES ITERATIONS [proxy]\n");
		return 2;
	}
	nf = atoi(argv[2]);
	iters = atol(argv[3]);
	row = calloc(nf, sizeof(float));
	for (int j = 0; j < nf; j++)
		row[j] = (float) (j % 7) / 7.0f;
	CHECK(XGBoosterCreate(NULL, 0, &booster));
	CHECK(XGBoosterLoadModel(booster, argv[1]));
	CHECK(XGBoosterSetParam(booster, "nthread", "1"));
	if (argc == 5)
		CHECK(XGProxyDMatrixCreate(&proxy));
	snprintf(ai, sizeof(ai),
			 "{\"data\": [%lu, true], \"shape\": [1, %d], \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long) row, nf);
	for (long pass = 0; pass < 2; pass++)
	{
		long		n = pass == 0 ? 1000 : iters;	/* warm up, then measure */

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++)
		{
			const bst_ulong *shape;
			bst_ulong	dim;
			const float *out;

			row[0] = (float) (i % 100);
			CHECK(XGBoosterPredictFromDense(booster, ai,
											"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
											"\"iteration_end\": 0, \"strict_shape\": false, "
											"\"missing\": NaN, \"cache_id\": 0}",
											proxy, &shape, &dim, &out));
			sink += out[0];
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	printf("%.3f\n", ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / iters);
	fprintf(stderr, "checksum %g\n", sink);
	if (proxy)
		XGDMatrixFree(proxy);
	XGBoosterFree(booster);
	free(row);
	return 0;
}
