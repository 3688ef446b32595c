"""A stand-in training script for the local SageMaker runner's tests: it records what the runner gave it.

It writes the SageMaker environment and its arguments to the output data folder (so the test reads them back
from output.tar.gz), prints metric lines in train.py's format, and saves a model folder with code/inference.py
and weights.json naming the training job (the model's answers name it, so a test can tell which model serves).
`--exit-code N` makes it exit with N after printing a line; `--fail MESSAGE` makes it raise StandInTrainingError
(MESSAGE) after the epochs, as a real script that hits bad data does (traceback, exit status 1);
`--accuracy X` is the test accuracy it reports, `--threshold X` the confidence threshold it reports having chosen;
`--seconds-per-epoch S` makes each epoch take S seconds (so a test can stop a job mid-run);
`--broken true` saves a model whose serving code refuses to load it, `--malformed true` one that answers with
probabilities that are not probabilities.
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


class StandInTrainingError(Exception):
    """What a real training script raises when it cannot go on."""


parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--accuracy", type=float, default=0.9)
parser.add_argument("--threshold", type=float, default=0.85)
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--seconds-per-epoch", type=float, default=0.0)
parser.add_argument("--fail", default="", help="raise StandInTrainingError with this message")
parser.add_argument("--broken", default="false", help="save a model that fails to load")
parser.add_argument("--malformed", default="false", help="save a model whose answers are malformed")
args, unknown = parser.parse_known_args()

channels = json.loads(os.environ["SM_CHANNELS"])
record = {
    "argv": sys.argv[1:],
    "env": {key: value for key, value in os.environ.items() if key.startswith("SM_")},
    "files": {name: sorted(os.listdir(os.environ[f"SM_CHANNEL_{name.upper()}"])) for name in channels},
    "cwd": os.getcwd(),
    "aws_endpoint_url": os.environ.get("AWS_ENDPOINT_URL"),
}
(Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "record.json").write_text(json.dumps(record))

for epoch in range(args.epochs):
    time.sleep(args.seconds_per_epoch)
    print(f"epoch {epoch + 1}: train:loss={1 / (epoch + 1):.4f} validation:accuracy={0.5 + 0.1 * epoch:.4f}")
if args.fail:
    raise StandInTrainingError(args.fail)
print(f"test:accuracy={args.accuracy:.4f}")
print(f"validation:threshold={args.threshold:.4f}")
if args.exit_code:
    print("something went wrong on purpose", file=sys.stderr)
    sys.exit(args.exit_code)

model_dir = Path(os.environ["SM_MODEL_DIR"])
(model_dir / "code").mkdir()
shutil.copy(Path(__file__).with_name("inference.py"), model_dir / "code" / "inference.py")
weights = {
    "model": os.environ["SM_TRAINING_JOB_NAME"],
    "accuracy": args.accuracy,
    "broken": args.broken.lower() == "true",
    "malformed": args.malformed.lower() == "true",
}
(model_dir / "weights.json").write_text(json.dumps(weights))
