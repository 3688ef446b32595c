"""Training: the script-mode source dir SageMaker runs, and the launcher that starts the training pipeline."""
