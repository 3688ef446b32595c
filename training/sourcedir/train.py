"""SageMaker script-mode entry point: train the courier-vehicle classifier on the ETL's split folders.

Runs unchanged in the SageMaker PyTorch training container and on a laptop:

    SM_CHANNEL_TRAIN=data/train SM_CHANNEL_VALIDATION=data/validation SM_CHANNEL_TEST=data/test \\
        python train.py --seed 0

The train and validation images are cut into --folds stratified folds; one member network trains on all folds
but one, and predicts the fold it never saw. The confidence threshold is chosen on those out-of-fold predictions
of every train+validation image, and the model that is saved (and served) is the ensemble of the members. The test
split is only evaluated (the pipeline's accuracy gate reads test:accuracy).

Hyperparameters arrive as command-line arguments (`--batch-size` and `--batch_size` both work); data, model and
output folders come from the SM_* environment variables, or from --train/--validation/--test/--model-dir/
--output-data-dir when running outside SageMaker. Metric lines (`validation:accuracy=0.9375`) match
metrics.METRIC_DEFINITIONS.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
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
DEFAULT_FOLDS = 4


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
    # Hyperparameters. The defaults are the configuration chosen by cross-validation over the 1,000 labelled images
    # (scripts/benchmark_training): 4 courier-resnet-w8 members of 80 epochs, trained side by side: about the CPU
    # time of the earlier single 120-epoch courier-cnn-w16, and less wall time on 2 cores.
    _flag(parser, "epochs", type=int, default=80, help="passes of each member over its training folds")
    _flag(parser, "batch-size", type=int, default=64)
    _flag(parser, "learning-rate", type=float, default=0.2, help="peak learning rate of the one-cycle schedule")
    _flag(parser, "momentum", type=float, default=0.9, help="SGD Nesterov momentum")
    _flag(parser, "weight-decay", type=float, default=5e-4, help="applied to conv and linear weights only")
    _flag(parser, "label-smoothing", type=float, default=0.0,
          help="0 keeps confident members near 1, so their average stays high when they agree (more routed)")
    _flag(parser, "warmup-fraction", type=float, default=0.25, help="share of steps spent raising the LR")
    _flag(parser, "crop-padding", type=int, default=4, help="random-crop augmentation: pixels of reflect padding")
    _flag(parser, "cutout", type=int, default=12, help="side of the square zeroed at a random place (0: off)")
    _flag(parser, "architecture", default=model_definition.DEFAULT_ARCHITECTURE)
    _flag(parser, "seed", type=int, default=0)
    _flag(parser, "num-workers", type=int, default=0, help="threads decoding the PNGs (0: decode inline)")
    _flag(parser, "num-threads", type=int, default=0,
          help="torch CPU threads (0: SM_NUM_CPUS or every CPU); fixed so runs are repeatable")
    _flag(parser, "class-names", default=DEFAULT_CLASS_NAMES, help="comma-separated, in .lst label order")
    _flag(parser, "folds", type=int, default=DEFAULT_FOLDS,
          help="k: train k member networks, each on k-1 folds of train+validation, and serve their average; the "
               "threshold comes from each image's out-of-fold prediction (1: one network on train, threshold on "
               "validation)")
    _flag(parser, "target-precision", type=float, default=0.99,
          help="the confidence threshold is the lowest one whose out-of-fold predictions reach this precision")
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
    if args.folds < 1:
        raise TrainingInputError(f"--folds must be at least 1, got {args.folds}")
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

    Candidates are the floor and every held-out confidence above it; a candidate t qualifies when the
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


def train_member(
    args: argparse.Namespace, train: Split, device: torch.device, seed: int, label: str = ""
) -> torch.nn.Module:
    """One network: SGD + Nesterov with a one-cycle LR schedule, optional label smoothing, and crop/flip/cutout
    augmentation on whole batches. `seed` fixes its initial weights and its augmentations."""
    torch.manual_seed(seed)
    net = model_definition.build_network(args.architecture, len(args.class_names))
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
    generator = torch.Generator().manual_seed(seed)
    train_images = preprocessing.arrays_to_tensor(train.images).to(device)
    train_labels = torch.from_numpy(train.labels).to(device)
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
        print(f"{label}epoch {epoch}/{args.epochs} lr={schedule.get_last_lr()[0]:.5f} "
              f"elapsed={time.perf_counter() - started:.1f}s", flush=True)
        print(metrics.metric_line("train:loss", total_loss / max(seen, 1)), flush=True)
    return net.eval()


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number (0..folds-1) of each image: every class spread evenly over the folds, in a seeded order."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        assignment[members] = np.arange(len(members)) % folds
    return assignment


def subset(split: Split, mask: np.ndarray) -> Split:
    return Split(split.images[mask], split.labels[mask], [f for f, keep in zip(split.files, mask, strict=True) if keep])


def concat(first: Split, second: Split) -> Split:
    return Split(np.concatenate([first.images, second.images]), np.concatenate([first.labels, second.labels]),
                 first.files + second.files)


@dataclass
class CrossValidation:
    """The served model (one network, or the ensemble of the fold members) and the held-out predictions that the
    confidence threshold is chosen on: every image's prediction by a member that never trained on it."""

    model: torch.nn.Module
    held_out: Split
    held_out_probabilities: np.ndarray
    members: int


def cross_validate(
    args: argparse.Namespace, train: Split, validation: Split, device: torch.device, threads: int = 1
) -> CrossValidation:
    """k members on k-1 folds each of train+validation; with --folds 1, one network on train, validated on
    validation. Members are seeded seed, seed+1, ..., so a seed gives the same model on the same machine.

    On the CPU with more than one thread, members train side by side in worker processes (threads // workers
    torch threads each): a network this small keeps one core busy far better than it shares two, above all on a
    busy machine, where intra-op threads spin waiting for each other.
    """
    if args.folds == 1:
        net = train_member(args, train, device, args.seed)
        probabilities = model_definition.predict_proba(net, preprocessing.arrays_to_tensor(validation.images))
        report_held_out("validation", validation.labels, probabilities.numpy())
        return CrossValidation(net, validation, probabilities.numpy(), 1)
    pool = concat(train, validation)
    if args.folds > len(pool.labels):
        raise TrainingInputError(f"--folds {args.folds} is more than the {len(pool.labels)} training images")
    fold_of = stratified_folds(pool.labels, args.folds, args.seed)
    jobs = [
        MemberJob(args, subset(pool, fold_of != fold), pool.images[fold_of == fold], args.seed + fold,
                  f"member {fold + 1}/{args.folds} ")
        for fold in range(args.folds)
    ]
    workers = min(args.folds, threads) if device.type == "cpu" else 1
    if workers > 1:
        for job in jobs:
            job.threads = max(1, threads // workers)
        # Leaving the block terminates the workers, also when SageMaker stops the job (SIGTERM: see main).
        with multiprocessing.get_context("spawn").Pool(workers) as processes:
            results = processes.map(train_member_job, jobs, chunksize=1)
    else:
        results = [train_member_job(job, device) for job in jobs]
    held_out = np.zeros((len(pool.labels), len(args.class_names)), dtype=np.float64)
    members = []
    for fold, (state, probabilities) in enumerate(results):
        net = model_definition.build_network(args.architecture, len(args.class_names))
        net.load_state_dict(state)
        members.append(net.to(device, memory_format=torch.channels_last).eval())
        held_out[fold_of == fold] = probabilities
        report_held_out(f"member {fold + 1} held-out fold", pool.labels[fold_of == fold], probabilities)
    report_held_out("cross-validated (every image out of fold)", pool.labels, held_out)
    ensemble = model_definition.Ensemble(members).eval()
    return CrossValidation(ensemble, pool, held_out, args.folds)


@dataclass
class MemberJob:
    """What one member needs, picklable for a worker process: its training folds and the fold it predicts."""

    args: argparse.Namespace
    train: Split
    held_out_images: np.ndarray
    seed: int
    label: str
    threads: int = 0  # torch threads in a worker process (0: leave the caller's setting)


def train_member_job(job: MemberJob, device: torch.device | None = None) -> tuple[dict, np.ndarray]:
    """Train one member and predict its held-out fold: (CPU state dict, held-out probabilities)."""
    if job.threads:
        configure_determinism(job.seed, job.threads)
    net = train_member(job.args, job.train, device or torch.device("cpu"), job.seed, job.label)
    probabilities = model_definition.predict_proba(net, preprocessing.arrays_to_tensor(job.held_out_images))
    state = {name: tensor.detach().cpu() for name, tensor in net.state_dict().items()}
    return state, probabilities.numpy()


def report_held_out(what: str, labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Print validation:loss and validation:accuracy of held-out predictions (the last pair printed is the
    cross-validated one, which SageMaker keeps as the final value)."""
    loss = float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)).mean())
    accuracy = float((probabilities.argmax(1) == labels).mean())
    print(f"{what}: {len(labels)} images, accuracy {accuracy:.4f}", flush=True)
    print(metrics.metric_line("validation:loss", loss), flush=True)
    print(metrics.metric_line("validation:accuracy", accuracy), flush=True)
    return loss, accuracy


# -------------------------------------------------------------------------------------------- outputs


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[list[int]]:
    """Rows are true classes, columns predicted classes, both in label order."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix.tolist()


def split_report(split: Split, probabilities: np.ndarray, threshold: float, class_names: list[str]) -> dict:
    """Accuracy, confident share/precision, confusion matrix and every image's prediction, for one split (or for
    the out-of-fold predictions the threshold was chosen on)."""
    predicted = probabilities.argmax(1)
    confidences = probabilities.max(1)
    correct = predicted == split.labels
    return {
        "count": len(split.labels),
        "accuracy": float(correct.mean()),
        **confident_summary(confidences, correct, threshold),
        "confusion_matrix": {"labels": class_names,
                             "matrix": confusion_matrix(split.labels, predicted, len(class_names))},
        "predictions": [
            {"file": file, "true": class_names[label], "predicted": class_names[int(row.argmax())],
             "confidence": float(row.max())}
            for file, label, row in zip(split.files, split.labels, probabilities, strict=True)
        ],
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


def model_version() -> str:
    """The SageMaker training job that produced this model (SageMaker sets TRAINING_JOB_NAME in the training
    container; the SageMaker training toolkit's SM_TRAINING_ENV carries it as job_name), else "unknown"."""
    for name in ("TRAINING_JOB_NAME", "SM_TRAINING_JOB_NAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return str(json.loads(os.environ.get("SM_TRAINING_ENV", "{}")).get("job_name") or "unknown")
    except ValueError:
        return "unknown"


def run(args: argparse.Namespace) -> dict:
    """Cross-validate (k members), choose the threshold on the out-of-fold predictions, evaluate the ensemble on
    test, write the model and evaluation.json."""
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
          f"threads={threads} architecture={args.architecture} folds={args.folds}", flush=True)

    cv = cross_validate(args, train, validation, device, threads)
    held_out_correct = cv.held_out_probabilities.argmax(1) == cv.held_out.labels
    threshold, reached = choose_threshold(
        cv.held_out_probabilities.max(1), held_out_correct, args.target_precision, args.threshold_floor
    )
    chosen_on = (f"out-of-fold predictions of all {len(cv.held_out.labels)} train+validation images"
                 if cv.members > 1 else f"the {len(cv.held_out.labels)} validation images")
    if not reached:
        print(f"warning: no threshold reaches {args.target_precision} precision on {chosen_on}; "
              f"using {threshold} (every prediction is low-confidence)", flush=True)
    print(f"threshold {threshold:.4f} chosen on {chosen_on}", flush=True)
    print(metrics.metric_line("validation:threshold", threshold), flush=True)

    evaluation: dict = {
        "labels": args.class_names,
        "confidence_threshold": threshold,
        "threshold_rule": {"target_precision": args.target_precision, "floor": args.threshold_floor,
                           "reached": reached, "chosen_on": chosen_on, "images": len(cv.held_out.labels)},
        "validation": split_report(cv.held_out, cv.held_out_probabilities, threshold, args.class_names),
    }
    if test is not None:
        test_probabilities = model_definition.predict_proba(cv.model, preprocessing.arrays_to_tensor(test.images))
        test_probabilities = test_probabilities.numpy()
        report = split_report(test, test_probabilities, threshold, args.class_names)
        evaluation["test"] = report
        print(metrics.metric_line("test:accuracy", report["accuracy"]), flush=True)
        print(metrics.metric_line("test:confident_share", report["confident_share"]), flush=True)
        if report["confident_precision"] is not None:
            print(metrics.metric_line("test:confident_precision", report["confident_precision"]), flush=True)

    config = {
        "labels": args.class_names,
        "image_size": preprocessing.IMAGE_SIZE,
        "confidence_threshold": threshold,
        "model_version": model_version(),
        "normalization": preprocessing.NORMALIZATION,
        "architecture": args.architecture,
        "ensemble_members": cv.members,
        "test_time_augmentation": "horizontal flip (average of the image and its mirror image)",
    }
    save_model(cv.model, Path(args.model_dir), config)
    seconds = time.perf_counter() - started
    evaluation["model_version"] = config["model_version"]
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


def _stop(signum: int, _frame: object) -> None:
    """SageMaker stops a training job with SIGTERM: unwind (so worker processes are terminated), exit 143."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    try:
        run(parse_args(argv))
    except TrainingInputError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
