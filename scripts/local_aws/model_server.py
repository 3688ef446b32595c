"""A local model container: loads a SageMaker PyTorch model directory and answers requests through its serving code.

Started by `endpoints.py` as `python model_server.py <model_dir>`. It follows the SageMaker PyTorch inference
toolkit's contract: `code/inference.py` inside the model directory provides `model_fn`, `input_fn`, `predict_fn`
and `output_fn`. One JSON request per line on stdin ({"body": base64, "content_type", "accept"}), one JSON reply
per line on the file descriptor that was stdout; the serving code's own prints go to stderr.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path


def load_serving_module(model_dir: Path):
    entry = model_dir / "code" / "inference.py"
    if not entry.is_file():
        raise FileNotFoundError(f"model.tar.gz has no code/inference.py (looked in {model_dir})")
    sys.path.insert(0, str(entry.parent))
    spec = importlib.util.spec_from_file_location("inference", entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def main(model_dir: Path) -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        serving = load_serving_module(model_dir)
        model = serving.model_fn(str(model_dir))
        replies.write(json.dumps({"ok": True, "ready": True}) + "\n")
    except Exception as error:
        traceback.print_exc()
        replies.write(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        return
    for line in sys.stdin:
        request = json.loads(line)
        try:
            data = serving.input_fn(base64.b64decode(request["body"]), request["content_type"])
            prediction = serving.predict_fn(data, model)
            output = serving.output_fn(prediction, request.get("accept") or "application/json")
            content_type = request.get("accept") or "application/json"
            if isinstance(output, tuple):
                output, content_type = output
            if isinstance(output, str):
                output = output.encode()
            reply = {"ok": True, "body": base64.b64encode(bytes(output)).decode(), "content_type": content_type}
        except Exception as error:
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stderr.flush()
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
