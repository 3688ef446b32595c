"""train.py under SageMaker's script-mode contract: SM_* folders in, model.tar.gz contents and metric lines out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import metrics
import model as model_definition
import numpy as np
import pytest
import torch
import train

from tests.training.conftest import TRAINED_RUN_EPOCHS, TRAINED_RUN_FOLDS, TRAINED_RUN_JOB_NAME
from tests.training.scriptmode import CLASS_NAMES, SOURCEDIR, Dataset, TrainingRun, run_train_script, write_split


def metric_values(stdout: str, name: str) -> list[float]:
    """What SageMaker would extract for `name` with the published MetricDefinitions regex."""
    regex = next(d["Regex"] for d in metrics.METRIC_DEFINITIONS if d["Name"] == name)
    return [float(match) for match in re.findall(regex, stdout)]


def test_model_dir_is_a_self_contained_model_tar(trained_run: TrainingRun) -> None:
    model_dir = trained_run.model_dir
    for name in train.SERVING_FILES:
        copied = model_dir / "code" / name
        assert copied.read_bytes() == (SOURCEDIR / name).read_bytes(), f"code/{name} differs from the sourcedir"
    config = json.loads((model_dir / "model_config.json").read_text())
    assert config["labels"] == list(CLASS_NAMES)
    assert config["image_size"] == 32
    assert 0.5 <= config["confidence_threshold"] <= 1.0
    assert set(config["normalization"]) == {"mean", "std"}
    assert config["model_version"] == TRAINED_RUN_JOB_NAME
    assert config["ensemble_members"] == TRAINED_RUN_FOLDS
    network = model_definition.build_model(config["architecture"], len(config["labels"]), config["ensemble_members"])
    network.load_state_dict(torch.load(model_dir / "model.pt", weights_only=True))


def test_metric_lines_match_the_metric_definitions(trained_run: TrainingRun) -> None:
    stdout = trained_run.stdout
    assert len(metric_values(stdout, "train:loss")) == TRAINED_RUN_EPOCHS * TRAINED_RUN_FOLDS, "one per member epoch"
    # One pair per member's held-out fold, then the cross-validated pair: SageMaker keeps the last as final.
    assert len(metric_values(stdout, "validation:accuracy")) == TRAINED_RUN_FOLDS + 1
    assert len(metric_values(stdout, "validation:loss")) == TRAINED_RUN_FOLDS + 1
    evaluation = json.loads((trained_run.output_dir / "evaluation.json").read_text())
    final_accuracy = metric_values(stdout, "validation:accuracy")[-1]
    assert final_accuracy == pytest.approx(evaluation["validation"]["accuracy"], abs=1e-4)
    assert len(metric_values(stdout, "validation:threshold")) == 1
    assert len(metric_values(stdout, "test:accuracy")) == 1
    assert len(metric_values(stdout, "test:confident_share")) == 1
    # Every metric line is exactly `name=0.1234`, so the regex captures the whole number.
    metric_lines = [line for line in stdout.splitlines() if line.split("=")[0] in metrics.METRICS]
    assert metric_lines
    for line in metric_lines:
        assert re.fullmatch(r"[a-z]+:[a-z_]+=\d+\.\d{4}", line), line


def test_evaluation_json_reports_threshold_and_every_test_image(
    trained_run: TrainingRun, synthetic_dataset: Dataset
) -> None:
    evaluation = json.loads((trained_run.output_dir / "evaluation.json").read_text())
    config = json.loads((trained_run.model_dir / "model_config.json").read_text())
    threshold = evaluation["confidence_threshold"]
    assert threshold == config["confidence_threshold"]
    assert metric_values(trained_run.stdout, "validation:threshold") == [pytest.approx(threshold, abs=1e-4)]

    test = evaluation["test"]
    test_list = (synthetic_dataset.channel("test") / "test.lst").read_text()
    listed = [line.split("\t")[2] for line in test_list.splitlines() if line]
    predictions = test["predictions"]
    assert [p["file"] for p in predictions] == listed
    assert {p["true"] for p in predictions} == set(CLASS_NAMES)
    accuracy = sum(p["true"] == p["predicted"] for p in predictions) / len(predictions)
    assert test["accuracy"] == pytest.approx(accuracy)
    assert metric_values(trained_run.stdout, "test:accuracy") == [pytest.approx(accuracy, abs=1e-4)]
    confident = [p for p in predictions if p["confidence"] >= threshold]
    assert test["confident_share"] == pytest.approx(len(confident) / len(predictions), abs=1e-6)
    matrix = test["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == len(predictions)
    assert sum(matrix[i][i] for i in range(len(matrix))) == sum(p["true"] == p["predicted"] for p in predictions)


def test_the_threshold_is_chosen_on_out_of_fold_predictions_of_every_training_image(
    trained_run: TrainingRun, synthetic_dataset: Dataset
) -> None:
    # Not on the 24 validation images alone: each of the 48 + 24 train+validation images is predicted by the
    # member that did not train on it, and the threshold is the selection rule applied to those 72 predictions.
    evaluation = json.loads((trained_run.output_dir / "evaluation.json").read_text())
    held_out = evaluation["validation"]
    listed = [
        line.split("\t")[2]
        for split in ("train", "validation")
        for line in (synthetic_dataset.channel(split) / f"{split}.lst").read_text().splitlines()
        if line
    ]
    assert sorted(p["file"] for p in held_out["predictions"]) == sorted(listed)
    assert held_out["count"] == evaluation["threshold_rule"]["images"] == 72
    assert "out-of-fold" in evaluation["threshold_rule"]["chosen_on"]
    confidences = [p["confidence"] for p in held_out["predictions"]]
    correct = [p["true"] == p["predicted"] for p in held_out["predictions"]]
    rule = evaluation["threshold_rule"]
    expected, reached = train.choose_threshold(confidences, correct, rule["target_precision"], rule["floor"])
    assert evaluation["confidence_threshold"] == pytest.approx(expected)
    assert rule["reached"] == reached
    assert held_out["accuracy"] == pytest.approx(sum(correct) / len(correct))


def test_stratified_folds_spread_every_class_over_every_fold() -> None:
    labels = np.array([0] * 40 + [1] * 20)
    folds = train.stratified_folds(labels, 5, seed=3)
    for fold in range(5):
        assert (labels[folds == fold] == 0).sum() == 8
        assert (labels[folds == fold] == 1).sum() == 4
    assert np.array_equal(folds, train.stratified_folds(labels, 5, seed=3))
    assert not np.array_equal(folds, train.stratified_folds(labels, 5, seed=4))


def test_one_fold_trains_on_train_and_chooses_the_threshold_on_validation(
    synthetic_dataset: Dataset, tmp_path: Path
) -> None:
    run = run_train_script(synthetic_dataset, tmp_path, "--epochs", "1", "--batch-size", "24", "--folds", "1")
    assert run.returncode == 0, run.stderr
    evaluation = json.loads((run.output_dir / "evaluation.json").read_text())
    config = json.loads((run.model_dir / "model_config.json").read_text())
    assert evaluation["validation"]["count"] == evaluation["threshold_rule"]["images"] == 24
    assert config["ensemble_members"] == 1
    assert config["model_version"] == "unknown", "outside SageMaker no training job names the model"


def test_learns_the_easy_synthetic_task(trained_run: TrainingRun) -> None:
    evaluation = json.loads((trained_run.output_dir / "evaluation.json").read_text())
    assert evaluation["test"]["accuracy"] >= 0.8, "6 epochs on stripes vs blobs should be enough"


def test_without_test_channel_trains_and_skips_test_metrics(synthetic_dataset: Dataset, tmp_path: Path) -> None:
    run = run_train_script(synthetic_dataset, tmp_path, "--epochs", "1", "--batch-size", "24", test_channel=False)
    assert run.returncode == 0, run.stderr
    assert metric_values(run.stdout, "validation:accuracy")
    assert not metric_values(run.stdout, "test:accuracy")
    evaluation = json.loads((run.output_dir / "evaluation.json").read_text())
    assert "test" not in evaluation
    assert (run.model_dir / "model.pt").is_file()


# ------------------------------------------------------------------------------------------- in-process


@pytest.fixture
def torch_global_state():
    """train.run pins threads and deterministic mode for the whole process; put them back afterwards."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def _train_in_process(dataset: Dataset, out: Path, seed: int) -> tuple[dict, dict]:
    args = train.parse_args([
        "--train", str(dataset.channel("train")), "--validation", str(dataset.channel("validation")),
        "--test", str(dataset.channel("test")), "--model-dir", str(out / "model"),
        "--output-data-dir", str(out / "output"), "--epochs", "2", "--batch-size", "16",
        "--seed", str(seed), "--num-threads", "1", "--folds", "2",
    ])
    evaluation = train.run(args)
    return evaluation, torch.load(out / "model" / "model.pt", weights_only=True)


@pytest.mark.usefixtures("torch_global_state")
def test_same_seed_gives_same_model_and_metrics(synthetic_dataset: Dataset, tmp_path: Path) -> None:
    first, first_weights = _train_in_process(synthetic_dataset, tmp_path / "a", seed=11)
    second, second_weights = _train_in_process(synthetic_dataset, tmp_path / "b", seed=11)
    _, other_weights = _train_in_process(synthetic_dataset, tmp_path / "c", seed=12)
    assert first_weights.keys() == second_weights.keys()
    assert all(torch.equal(first_weights[k], second_weights[k]) for k in first_weights)
    assert first["test"]["predictions"] == second["test"]["predictions"]
    assert first["confidence_threshold"] == second["confidence_threshold"]
    assert not all(torch.equal(first_weights[k], other_weights[k]) for k in first_weights), "seed is ignored"


def test_missing_validation_channel_exits_with_one_line_reason(
    monkeypatch: pytest.MonkeyPatch, synthetic_dataset: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(synthetic_dataset.channel("train")))
    monkeypatch.delenv("SM_CHANNEL_VALIDATION", raising=False)
    assert train.main(["--epochs", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "SM_CHANNEL_VALIDATION" in error


def test_hyperparameters_accept_dashes_underscores_and_ignore_sagemaker_extras(
    monkeypatch: pytest.MonkeyPatch, synthetic_dataset: Dataset
) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(synthetic_dataset.channel("train")))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(synthetic_dataset.channel("validation")))
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    args = train.parse_args([
        "--batch_size", "8", "--learning-rate", "0.3", "--num_workers", "2", "--epochs", "7",
        "--class-names", "bicycle, motorcycle", "--sagemaker_program", "train.py",
    ])
    assert (args.batch_size, args.learning_rate, args.num_workers, args.epochs) == (8, 0.3, 2, 7)
    assert args.class_names == ["bicycle", "motorcycle"]
    assert args.model_dir == "/opt/ml/model"
    assert args.train == str(synthetic_dataset.channel("train"))


def test_read_split_names_the_bad_line(tmp_path: Path) -> None:
    write_split(tmp_path / "train", "train", 4, np.random.default_rng(0))
    list_file = tmp_path / "train" / "train.lst"
    list_file.write_text(list_file.read_text() + "4\t5\ttrain_0000.png\n")
    with pytest.raises(train.TrainingInputError, match=r"train\.lst:5: label 5 outside 0\.\.1"):
        train.read_split(tmp_path / "train", num_classes=2)


def test_read_split_wants_exactly_one_list_file(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(train.TrainingInputError, match="exactly one"):
        train.read_split(tmp_path / "train", num_classes=2)


def test_read_split_accepts_float_labels_as_im2rec_writes_them(tmp_path: Path) -> None:
    write_split(tmp_path / "v", "validation", 4, np.random.default_rng(0))
    list_file = tmp_path / "v" / "validation.lst"
    list_file.write_text(list_file.read_text().replace("\t1\t", "\t1.000000\t"))
    split = train.read_split(tmp_path / "v", num_classes=2, num_workers=2)
    assert split.labels.tolist() == [0, 1, 0, 1]
    assert split.images.shape == (4, 32, 32, 3)


def test_members_trained_side_by_side_in_worker_processes_equal_members_trained_one_after_another(
    synthetic_dataset: Dataset, tmp_path: Path
) -> None:
    # Two threads: two worker processes of one torch thread each; one thread: the same members, in turn.
    common = ("--epochs", "2", "--batch-size", "16", "--folds", "2", "--seed", "5")
    parallel = run_train_script(synthetic_dataset, tmp_path / "parallel", *common, "--num-threads", "2")
    serial = run_train_script(synthetic_dataset, tmp_path / "serial", *common, "--num-threads", "1")
    assert parallel.returncode == 0, parallel.stderr
    assert serial.returncode == 0, serial.stderr
    assert "threads=2" in parallel.stdout
    assert len(metric_values(parallel.stdout, "train:loss")) == 2 * 2, "every member's epochs are reported"
    first = torch.load(parallel.model_dir / "model.pt", weights_only=True)
    second = torch.load(serial.model_dir / "model.pt", weights_only=True)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    evaluations = [json.loads((run.output_dir / "evaluation.json").read_text()) for run in (parallel, serial)]
    held_out = [evaluation["validation"] for evaluation in evaluations]
    assert held_out[0]["predictions"] == held_out[1]["predictions"]
