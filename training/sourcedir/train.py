"""SageMaker script-mode entry point: train the courier-vehicle classifier on the ETL's split folders.

Runs unchanged in the SageMaker PyTorch training container and on a laptop:

    SM_CHANNEL_TRAIN=data/train SM_CHANNEL_VALIDATION=data/validation SM_CHANNEL_TEST=data/test \\
        python train.py --seed 0 --epochs 120 --batch-size 64

Hyperparameters arrive as command-line arguments (`--batch-size` and `--batch_size` both work); data, model and
output folders come from the SM_* environment variables, or from --train/--validation/--test/--model-dir/
--output-data-dir when running outside SageMaker. Metric lines (`validation:accuracy=0.9375`) match
metrics.METRIC_DEFINITIONS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# cuBLAS needs this before CUDA starts to run deterministically (ignored on CPU).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import metrics
import model as model_definition
import numpy as np
import preprocessing
import torch
import torch.nn.functional as F

SOURCE_DIR = Path(__file__).resolve().parent
# What model.tar.gz must contain under code/ for the SageMaker PyTorch serving container.
SERVING_FILES = ("inference.py", "model.py", "preprocessing.py", "features.py")
DEFAULT_CLASS_NAMES = "bicycle,motorcycle"


class TrainingInputError(ValueError):
    """A channel folder, its .lst file or a hyperparameter is not usable; the message says which and why."""


@dataclass
class Split:
    """One ETL split held in memory: uint8 images (N x 32 x 32 x 3), integer labels, and the file names."""

    images: np.ndarray
    labels: np.ndarray
    files: list[str]


# --------------------------------------------------------------------------------------------- arguments


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """Register --some-name and --some_name: SageMaker passes hyperparameter names exactly as they were given."""
    flags = [f"--{name}"] + ([f"--{name.replace('-', '_')}"] if "-" in name else [])
    parser.add_argument(*flags, dest=name.replace("-", "_"), **kwargs)


def _env_path(name: str, fallback: str | None) -> str | None:
    return os.environ.get(name) or fallback


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    # Hyperparameters. The defaults are the tuned configuration: >= 0.90 test accuracy in ~70 s on 2 CPU cores.
    _flag(parser, "epochs", type=int, default=120, help="passes over the training split")
    _flag(parser, "batch-size", type=int, default=64)
    _flag(parser, "learning-rate", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    _flag(parser, "momentum", type=float, default=0.9, help="SGD Nesterov momentum")
    _flag(parser, "weight-decay", type=float, default=5e-4, help="applied to conv and linear weights only")
    _flag(parser, "label-smoothing", type=float, default=0.1)
    _flag(parser, "warmup-fraction", type=float, default=0.25, help="share of steps spent raising the LR")
    _flag(parser, "crop-padding", type=int, default=4, help="random-crop augmentation: pixels of reflect padding")
    _flag(parser, "cutout", type=int, default=12, help="side of the square zeroed at a random place (0: off)")
    _flag(parser, "architecture", default=model_definition.DEFAULT_ARCHITECTURE)
    _flag(parser, "seed", type=int, default=0)
    _flag(parser, "num-workers", type=int, default=0, help="threads decoding the PNGs (0: decode inline)")
    _flag(parser, "num-threads", type=int, default=0,
          help="torch CPU threads (0: SM_NUM_CPUS or every CPU); fixed so runs are repeatable")
    _flag(parser, "class-names", default=DEFAULT_CLASS_NAMES, help="comma-separated, in .lst label order")
    _flag(parser, "target-precision", type=float, default=0.99,
          help="the confidence threshold is the lowest one reaching this precision on validation")
    _flag(parser, "threshold-floor", type=float, default=0.5, help="the threshold is never below this")
    _flag(parser, "device", default="auto", choices=["auto", "cpu", "cuda"])
    # Folders: SageMaker sets the environment; the flags are for running by hand.
    _flag(parser, "train", default=_env_path("SM_CHANNEL_TRAIN", None))
    _flag(parser, "validation", default=_env_path("SM_CHANNEL_VALIDATION", None))
    _flag(parser, "test", default=_env_path("SM_CHANNEL_TEST", None))
    _flag(parser, "model-dir", default=_env_path("SM_MODEL_DIR", "model"))
    _flag(parser, "output-data-dir", default=_env_path("SM_OUTPUT_DATA_DIR", "output"))
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse hyperparameters; unknown ones are reported and ignored, as SageMaker may add its own."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        print(f"warning: ignoring unknown arguments {' '.join(unknown)}", flush=True)
    for name in ("train", "validation"):
        if not getattr(args, name):
            raise TrainingInputError(
                f"no {name} data: set SM_CHANNEL_{name.upper()} or pass --{name} <split folder>"
            )
    if args.epochs < 1 or args.batch_size < 1:
        raise TrainingInputError("--epochs and --batch-size must be at least 1")
    args.class_names = [name.strip() for name in args.class_names.split(",") if name.strip()]
    if len(args.class_names) < 2 or len(set(args.class_names)) != len(args.class_names):
        raise TrainingInputError(f"--class-names needs at least two distinct names, got {args.class_names}")
    return args


# ----------------------------------------------------------------------------------------------- data


def find_list_file(channel_dir: Path) -> Path:
    """The one `<split>.lst` in a channel folder (the ETL writes exactly one per split)."""
    if not channel_dir.is_dir():
        raise TrainingInputError(f"channel folder {channel_dir} does not exist")
    lists = sorted(channel_dir.glob("*.lst"))
    if len(lists) != 1:
        raise TrainingInputError(f"expected exactly one *.lst in {channel_dir}, found {len(lists)}")
    return lists[0]


def read_split(channel_dir: str | Path, num_classes: int, num_workers: int = 0) -> Split:
    """Read a split folder: `<split>.lst` lines `index<TAB>label<TAB>file.png`, images decoded by preprocessing."""
    channel_dir = Path(channel_dir)
    list_file = find_list_file(channel_dir)
    labels, files = [], []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise TrainingInputError(f"{list_file}:{number}: expected index<TAB>label<TAB>file, got {line!r}")
        try:
            label = int(float(fields[1]))
        except ValueError as error:
            raise TrainingInputError(f"{list_file}:{number}: label {fields[1]!r} is not a number") from error
        if not 0 <= label < num_classes:
            raise TrainingInputError(f"{list_file}:{number}: label {label} outside 0..{num_classes - 1}")
        file = fields[2].strip()
        if not file or Path(file).is_absolute() or ".." in Path(file).parts:
            raise TrainingInputError(f"{list_file}:{number}: image path {file!r} must stay inside {channel_dir}")
        labels.append(label)
        files.append(file)
    if not files:
        raise TrainingInputError(f"{list_file} lists no images")

    def decode(file: str) -> np.ndarray:
        path = channel_dir / file
        try:
            return preprocessing.bytes_to_array(path.read_bytes())
        except (OSError, preprocessing.ImageDecodeError) as error:
            raise TrainingInputError(f"cannot read image {path}: {error}") from error

    if num_workers > 0:
        with ThreadPoolExecutor(max_workers=num_workers) as pool:
            images = list(pool.map(decode, files))
    else:
        images = [decode(file) for file in files]
    return Split(np.stack(images), np.asarray(labels, dtype=np.int64), files)


def augment(images: torch.Tensor, generator: torch.Generator, padding: int, cutout: int) -> torch.Tensor:
    """Random crop from a reflect-padded copy, random horizontal flip and cutout, for a whole batch at once.

    Random numbers come from `generator` on the CPU, so a seed gives the same augmentations on any device.
    """
    count, channels, height, width = images.shape
    device = images.device
    if padding > 0:
        padded = F.pad(images, (padding, padding, padding, padding), mode="reflect")
        top = torch.randint(0, 2 * padding + 1, (count,), generator=generator)
        left = torch.randint(0, 2 * padding + 1, (count,), generator=generator)
        rows = (top[:, None] + torch.arange(height)).to(device)
        cols = (left[:, None] + torch.arange(width)).to(device)
        batch = torch.arange(count, device=device)[:, None, None, None]
        channel = torch.arange(channels, device=device)[None, :, None, None]
        images = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
    flip = (torch.rand(count, generator=generator) < 0.5).to(device)
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    if cutout > 0:
        # Zero a cutout x cutout square (clipped at the border) centred anywhere in the image.
        centre_y = torch.randint(0, height, (count, 1, 1), generator=generator).to(device)
        centre_x = torch.randint(0, width, (count, 1, 1), generator=generator).to(device)
        ys = torch.arange(height, device=device)[None, :, None]
        xs = torch.arange(width, device=device)[None, None, :]
        start_y, start_x = centre_y - cutout // 2, centre_x - cutout // 2
        inside = (ys >= start_y) & (ys < start_y + cutout) & (xs >= start_x) & (xs < start_x + cutout)
        images = images * (~inside)[:, None].to(images.dtype)
    return images


# ------------------------------------------------------------------------------------------ threshold


def choose_threshold(
    confidences: np.ndarray, correct: np.ndarray, target_precision: float = 0.99, floor: float = 0.5
) -> tuple[float, bool]:
    """Lowest confidence threshold whose at-or-above predictions reach `target_precision`, and whether one did.

    Candidates are the floor and every validation confidence above it; a candidate t qualifies when the
    predictions with confidence >= t are at least `target_precision` correct. Precision is not monotonic in t,
    so every candidate is checked and the lowest qualifying one wins (it keeps the most predictions).
    Fallback when none qualifies (the most confident predictions are wrong, or there is no data): 1.0, so that
    practically nothing counts as confident and images go to the low-confidence route.
    """
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    candidates = np.unique(np.concatenate([[floor], confidences[confidences >= floor]]))
    for threshold in candidates:  # ascending
        at_or_above = confidences >= threshold
        if at_or_above.any() and correct[at_or_above].mean() >= target_precision:
            return float(threshold), True
    return 1.0, False


def confident_summary(confidences: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    """Share of predictions at or above the threshold, and their precision (None when there are none)."""
    confident = np.asarray(confidences) >= threshold
    count = int(confident.sum())
    return {
        "confident_share": count / len(confident) if len(confident) else 0.0,
        "confident_count": count,
        "confident_precision": float(np.asarray(correct)[confident].mean()) if count else None,
    }


# ------------------------------------------------------------------------------------------- training


def configure_determinism(seed: int, num_threads: int) -> int:
    """Seed every generator and pin the thread count, so the same seed on the same machine gives the same model."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    threads = num_threads or int(os.environ.get("SM_NUM_CPUS") or 0) or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return threads


def evaluate(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[np.ndarray, float, float]:
    """Probabilities (flip-averaged, as served), cross-entropy and accuracy on one split."""
    probabilities = model_definition.predict_proba(net, images)
    loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), labels).item()
    accuracy = (probabilities.argmax(1) == labels).float().mean().item()
    return probabilities.numpy(), loss, accuracy


def train_model(args: argparse.Namespace, train: Split, validation: Split, device: torch.device) -> torch.nn.Module:
    """SGD + Nesterov with a one-cycle LR schedule, label smoothing and crop/flip augmentation on whole batches."""
    net = model_definition.build_model(args.architecture, len(args.class_names))
    net = net.to(device, memory_format=torch.channels_last)
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.learning_rate, momentum=args.momentum, nesterov=args.momentum > 0,
    )
    steps_per_epoch = math.ceil(len(train.labels) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.learning_rate, total_steps=args.epochs * steps_per_epoch,
        pct_start=args.warmup_fraction,
    )
    generator = torch.Generator().manual_seed(args.seed)
    train_images = preprocessing.arrays_to_tensor(train.images).to(device)
    train_labels = torch.from_numpy(train.labels).to(device)
    val_images = preprocessing.arrays_to_tensor(validation.images)
    val_labels = torch.from_numpy(validation.labels)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(train_labels), generator=generator).to(device)
        total_loss, seen = 0.0, 0
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size : (step + 1) * args.batch_size]
            if len(index) < 2:  # BatchNorm cannot train on a single image
                continue
            images = augment(train_images[index], generator, args.crop_padding, args.cutout)
            logits = net(images.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, train_labels[index], label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(index)
            seen += len(index)
        _, val_loss, val_accuracy = evaluate(net, val_images, val_labels)
        print(f"epoch {epoch}/{args.epochs} lr={schedule.get_last_lr()[0]:.5f} "
              f"elapsed={time.perf_counter() - started:.1f}s", flush=True)
        print(metrics.metric_line("train:loss", total_loss / max(seen, 1)), flush=True)
        print(metrics.metric_line("validation:loss", val_loss), flush=True)
        print(metrics.metric_line("validation:accuracy", val_accuracy), flush=True)
    return net


# -------------------------------------------------------------------------------------------- outputs


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[list[int]]:
    """Rows are true classes, columns predicted classes, both in label order."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix.tolist()


def split_report(split: Split, probabilities: np.ndarray, threshold: float, class_names: list[str]) -> dict:
    """Accuracy, confident share/precision and confusion matrix of one split."""
    predicted = probabilities.argmax(1)
    confidences = probabilities.max(1)
    correct = predicted == split.labels
    return {
        "count": len(split.labels),
        "accuracy": float(correct.mean()),
        **confident_summary(confidences, correct, threshold),
        "confusion_matrix": {"labels": class_names,
                             "matrix": confusion_matrix(split.labels, predicted, len(class_names))},
    }


def save_model(net: torch.nn.Module, model_dir: Path, config: dict) -> None:
    """model.pt (state_dict), model_config.json and code/ (the serving files), i.e. a self-contained model.tar.gz."""
    model_dir.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
    torch.save(state, model_dir / "model.pt")
    (model_dir / "model_config.json").write_text(json.dumps(config, indent=2) + "\n")
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    for name in SERVING_FILES:
        shutil.copyfile(SOURCE_DIR / name, code_dir / name)


def run(args: argparse.Namespace) -> dict:
    """Train, choose the threshold on validation, evaluate on test, write the model and evaluation.json."""
    started = time.perf_counter()
    threads = configure_determinism(args.seed, args.num_threads)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    num_classes = len(args.class_names)
    train = read_split(args.train, num_classes, args.num_workers)
    validation = read_split(args.validation, num_classes, args.num_workers)
    test = read_split(args.test, num_classes, args.num_workers) if args.test else None
    print(f"data: train={len(train.labels)} validation={len(validation.labels)} "
          f"test={len(test.labels) if test else 0} classes={args.class_names} device={device} "
          f"threads={threads} architecture={args.architecture}", flush=True)

    net = train_model(args, train, validation, device)

    val_probabilities = model_definition.predict_proba(net, preprocessing.arrays_to_tensor(validation.images))
    val_probabilities = val_probabilities.numpy()
    val_correct = val_probabilities.argmax(1) == validation.labels
    threshold, reached = choose_threshold(
        val_probabilities.max(1), val_correct, args.target_precision, args.threshold_floor
    )
    if not reached:
        print(f"warning: no threshold reaches {args.target_precision} precision on validation; "
              f"using {threshold} (every prediction is low-confidence)", flush=True)
    print(metrics.metric_line("validation:threshold", threshold), flush=True)

    evaluation: dict = {
        "labels": args.class_names,
        "confidence_threshold": threshold,
        "threshold_rule": {"target_precision": args.target_precision, "floor": args.threshold_floor,
                           "reached": reached},
        "validation": split_report(validation, val_probabilities, threshold, args.class_names),
    }
    if test is not None:
        test_probabilities = model_definition.predict_proba(net, preprocessing.arrays_to_tensor(test.images))
        test_probabilities = test_probabilities.numpy()
        report = split_report(test, test_probabilities, threshold, args.class_names)
        report["predictions"] = [
            {"file": file, "true": args.class_names[label], "predicted": args.class_names[int(row.argmax())],
             "confidence": float(row.max())}
            for file, label, row in zip(test.files, test.labels, test_probabilities, strict=True)
        ]
        evaluation["test"] = report
        print(metrics.metric_line("test:accuracy", report["accuracy"]), flush=True)
        print(metrics.metric_line("test:confident_share", report["confident_share"]), flush=True)
        if report["confident_precision"] is not None:
            print(metrics.metric_line("test:confident_precision", report["confident_precision"]), flush=True)

    config = {
        "labels": args.class_names,
        "image_size": preprocessing.IMAGE_SIZE,
        "confidence_threshold": threshold,
        "normalization": preprocessing.NORMALIZATION,
        "architecture": args.architecture,
        "test_time_augmentation": "horizontal flip (average of the image and its mirror image)",
    }
    save_model(net, Path(args.model_dir), config)
    seconds = time.perf_counter() - started
    evaluation["training"] = {
        "seconds": round(seconds, 1), "device": str(device), "threads": threads,
        "hyperparameters": {key: value for key, value in vars(args).items()
                            if key not in ("train", "validation", "test", "model_dir", "output_data_dir")},
    }
    output_dir = Path(args.output_data_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
    print(f"done in {seconds:.1f}s: model in {args.model_dir}, evaluation in {output_dir / 'evaluation.json'}",
          flush=True)
    return evaluation


def main(argv: list[str] | None = None) -> int:
    try:
        run(parse_args(argv))
    except TrainingInputError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
