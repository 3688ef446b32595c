"""Drift monitoring of the deployed model, with either engine: Model Monitor or the scheduled check.

- `record_preprocessor`: one captured request/response -> feature rows (both engines; Model Monitor runs it as is);
- `baseline`: statistics.json/constraints.json of the test images as the endpoint answered them;
- `check`: the constraint check (Model Monitor's documented checks) and the drift metrics;
- `scheduled_check`: the engine every account can run (EventBridge Scheduler -> functions/scheduled_check);
- `check_event`: that engine's retrain trigger, the Drift Check Completed event;
- `model_quality`: accuracy of the served model on reviewed labels (ground-truth records);
- `run_now` and `cli` (`python -m monitoring`): build, check, and run either engine now.
"""
