"""http_fastapi_app.py: the reference document's inference stack for bench/http_bench.sh --
FastAPI + uvicorn + the Python xgboost package serving one-row POST /predict with the same model
(exported from mlops) and the same JSON body as mlops' HTTP service, with an X-API-Key check.

Environment: MODEL_FILE (the model as XGBoost JSON), FEATURES (comma-separated, in training
order), API_KEY.  Run: uvicorn --app-dir bench http_fastapi_app:app --workers N --port P
"""
import os
import time

import numpy as np
import xgboost as xgb
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

booster = xgb.Booster()
booster.load_model(os.environ["MODEL_FILE"])
booster.set_param({"nthread": 1})
FEATURES = os.environ["FEATURES"].split(",")
API_KEY = os.environ["API_KEY"]
app = FastAPI()


class PredictRequest(BaseModel):
    model: str | None = None
    features: dict[str, float]
    user_id: str | None = None


@app.post("/predict")
def predict(req: PredictRequest, x_api_key: str | None = Header(default=None)):
    """predict checks the key, predicts one row and answers like mlops.predict_detail."""
    if x_api_key != API_KEY:
        raise HTTPException(status_code=401, detail="invalid credentials")
    start = time.perf_counter()
    row = np.array([[req.features.get(f, np.nan) for f in FEATURES]], dtype=np.float32)
    p = float(booster.inplace_predict(row)[0])
    return {"prediction": float(p > 0.5), "label": str(int(p > 0.5)), "probability": max(p, 1 - p),
            "probabilities": [1 - p, p], "model": req.model or "bench", "model_version": 1,
            "deployment_id": None, "variant": "stable", "latency_ms": (time.perf_counter() - start) * 1000}
