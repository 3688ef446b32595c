"""The demo's human-readable report: `report.md` with PNG figures drawn from `report.json` and the executions.

Figures: confusion matrix (true label by decision, human review included), a grid of sample predictions, both
state machines' graphs with the path one execution took (from the ASL and, for the Standard training pipeline,
its execution history; for the Express inference workflow, its CloudWatch Logs), and accuracy and coverage
against the confidence threshold.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WHITE, BLACK, GREY = (255, 255, 255), (30, 30, 30), (150, 150, 150)
GREEN, RED, BLUE, AMBER = (46, 160, 67), (207, 34, 46), (9, 105, 218), (191, 135, 0)
DECISIONS = ["bicycle", "motorcycle", "human_review"]


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def decision(item: dict) -> str:
    return "human_review" if item["route"] == "human_review" else item["predicted_label"]


# -- confusion matrix ----------------------------------------------------------------------------------------------
def confusion_matrix(items: list[dict], labels: list[str]) -> dict[str, dict[str, int]]:
    matrix = {true: dict.fromkeys([*labels, "human_review"], 0) for true in labels}
    for item in items:
        matrix[item["true_label"]][decision(item)] += 1
    return matrix


def draw_confusion_matrix(matrix: dict[str, dict[str, int]], path: Path) -> None:
    rows, cols = list(matrix), list(next(iter(matrix.values())))
    cell, left, top = 120, 170, 90
    image = Image.new("RGB", (left + cell * len(cols) + 20, top + cell * len(rows) + 40), WHITE)
    draw = ImageDraw.Draw(image)
    draw.text((left, 10), "decision (route taken)", fill=BLACK, font=font(18))
    peak = max(max(r.values()) for r in matrix.values()) or 1
    for j, col in enumerate(cols):
        draw.text((left + j * cell + 8, top - 30), col.replace("_", " "), fill=BLACK, font=font(16))
    for i, row in enumerate(rows):
        draw.text((10, top + i * cell + cell // 2 - 10), f"true {row}", fill=BLACK, font=font(16))
        for j, col in enumerate(cols):
            value = matrix[row][col]
            correct = row == col
            base = GREEN if correct else (AMBER if col == "human_review" else RED)
            shade = 0.15 + 0.85 * value / peak
            fill = tuple(int(255 - (255 - c) * shade) for c in base)
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 4, y + cell - 4], fill=fill, outline=GREY)
            draw.text((x + cell // 2 - 18, y + cell // 2 - 14), str(value), fill=BLACK, font=font(24))
    image.save(path)


# -- sample predictions --------------------------------------------------------------------------------------------
def draw_sample_grid(items: list[dict], image_paths: dict[str, Path], path: Path, columns: int = 6) -> None:
    tile, caption = 128, 36
    rows = (len(items) + columns - 1) // columns
    image = Image.new("RGB", (columns * (tile + 10) + 10, rows * (tile + caption + 10) + 10), WHITE)
    draw = ImageDraw.Draw(image)
    for index, item in enumerate(items):
        x = 10 + (index % columns) * (tile + 10)
        y = 10 + (index // columns) * (tile + caption + 10)
        with Image.open(image_paths[item["s3_key"]]) as picture:
            image.paste(picture.convert("RGB").resize((tile, tile), Image.Resampling.NEAREST), (x, y))
        outcome = decision(item)
        colour = AMBER if outcome == "human_review" else GREEN if outcome == item["true_label"] else RED
        draw.rectangle([x - 2, y - 2, x + tile + 1, y + tile + 1], outline=colour, width=3)
        label = "review" if outcome == "human_review" else outcome
        draw.text((x, y + tile + 4), f"{label} {item['confidence']:.2f}", fill=colour, font=font(14))
        draw.text((x, y + tile + 20), f"true: {item['true_label']}", fill=GREY, font=font(12))
    image.save(path)


# -- accuracy vs threshold -----------------------------------------------------------------------------------------
def threshold_curve(items: list[dict], thresholds: list[float]) -> list[dict[str, float]]:
    """For each threshold: share of images decided automatically and accuracy among them."""
    curve = []
    for threshold in thresholds:
        decided = [i for i in items if i["confidence"] >= threshold]
        correct = sum(1 for i in decided if i["predicted_label"] == i["true_label"])
        curve.append(
            {
                "threshold": threshold,
                "coverage": len(decided) / len(items) if items else 0.0,
                "accuracy": correct / len(decided) if decided else 1.0,
            }
        )
    return curve


def draw_threshold_curve(curve: list[dict[str, float]], chosen: float, path: Path) -> None:
    width, height, margin = 720, 420, 60
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    x0, x1 = curve[0]["threshold"], curve[-1]["threshold"]
    y_low = min(0.5, min(min(p["accuracy"], p["coverage"]) for p in curve))

    def to_xy(x: float, y: float) -> tuple[float, float]:
        return (
            margin + (x - x0) / (x1 - x0) * (width - 2 * margin),
            height - margin - (y - y_low) / (1 - y_low) * (height - 2 * margin),
        )

    draw.rectangle([margin, margin, width - margin, height - margin], outline=GREY)
    for tick in range(6):
        y = y_low + (1 - y_low) * tick / 5
        draw.text((8, to_xy(x0, y)[1] - 7), f"{y:.2f}", fill=GREY, font=font(12))
    for tick in range(6):
        x = x0 + (x1 - x0) * tick / 5
        draw.text((to_xy(x, y_low)[0] - 12, height - margin + 8), f"{x:.2f}", fill=GREY, font=font(12))
    for key, colour in (("accuracy", BLUE), ("coverage", GREEN)):
        draw.line([to_xy(p["threshold"], p[key]) for p in curve], fill=colour, width=3)
    cx = to_xy(chosen, y_low)[0]
    draw.line([(cx, margin), (cx, height - margin)], fill=RED, width=2)
    draw.text(
        (margin, 15),
        "accuracy of automatic decisions (blue), share decided automatically (green)",
        fill=BLACK,
        font=font(14),
    )
    draw.text((cx + 4, margin + 4), f"threshold {chosen:.2f}", fill=RED, font=font(13))
    draw.text((width // 2 - 60, height - 24), "confidence threshold", fill=BLACK, font=font(13))
    image.save(path)


# -- state machine graphs ------------------------------------------------------------------------------------------
def edges_of(definition: dict) -> dict[str, list[tuple[str, str]]]:
    """State → [(next state, kind)] for Next, Default, Choices and Catch transitions."""
    edges: dict[str, list[tuple[str, str]]] = {}
    for name, state in definition["States"].items():
        out = [(state["Next"], "next")] if "Next" in state else []
        out += [(choice["Next"], "choice") for choice in state.get("Choices", [])]
        out += [(state["Default"], "choice")] if "Default" in state else []
        out += [(catch["Next"], "catch") for catch in state.get("Catch", [])]
        edges[name] = out
    return edges


def layers_of(definition: dict, edges: dict[str, list[tuple[str, str]]]) -> list[list[str]]:
    depth = {definition["StartAt"]: 0}
    queue = deque([definition["StartAt"]])
    while queue:
        state = queue.popleft()
        for target, _kind in edges[state]:
            if target not in depth:
                depth[target] = depth[state] + 1
                queue.append(target)
    for state in definition["States"]:
        depth.setdefault(state, max(depth.values()) + 1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for state in definition["States"]:
        layers[depth[state]].append(state)
    return layers


def path_taken(events: list[dict]) -> list[str]:
    """The states a Standard execution entered, from GetExecutionHistory's events."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def draw_execution_graph(definition: dict, visited: list[str], status: str, title: str, path: Path) -> None:
    edges = edges_of(definition)
    layers = layers_of(definition, edges)
    taken = set(itertools.pairwise(visited))
    box_w, box_h, gap_x, gap_y = 190, 40, 24, 56
    width = max(len(layer) for layer in layers) * (box_w + gap_x) + gap_x
    height = len(layers) * (box_h + gap_y) + 70
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    draw.text((gap_x, 12), f"{title} - {status}", fill=BLACK, font=font(18))
    centre: dict[str, tuple[int, int]] = {}
    for row, layer in enumerate(layers):
        offset = (width - len(layer) * (box_w + gap_x) + gap_x) // 2
        for col, state in enumerate(layer):
            centre[state] = (offset + col * (box_w + gap_x) + box_w // 2, 50 + row * (box_h + gap_y) + box_h // 2)
    for state, out in edges.items():
        for target, kind in out:
            (x0, y0), (x1, y1) = centre[state], centre[target]
            used = (state, target) in taken
            colour = GREEN if used else (AMBER if kind == "catch" else GREY)
            draw.line([(x0, y0 + box_h // 2), (x1, y1 - box_h // 2)], fill=colour, width=4 if used else 1)
            draw.ellipse([x1 - 4, y1 - box_h // 2 - 4, x1 + 4, y1 - box_h // 2 + 4], fill=colour)
    last = visited[-1] if visited else None
    for state, (x, y) in centre.items():
        kind = definition["States"][state]["Type"]
        if state == last and status != "SUCCEEDED":
            fill, outline = (255, 225, 225), RED
        elif state in visited:
            fill, outline = (220, 245, 225), GREEN
        else:
            fill, outline = (245, 245, 245), GREY
        draw.rounded_rectangle(
            [x - box_w // 2, y - box_h // 2, x + box_w // 2, y + box_h // 2],
            radius=8,
            fill=fill,
            outline=outline,
            width=2 if state in visited else 1,
        )
        draw.text((x - box_w // 2 + 8, y - 15), state, fill=BLACK, font=font(13))
        draw.text((x - box_w // 2 + 8, y + 2), kind, fill=GREY, font=font(11))
    image.save(path)


# -- the report ----------------------------------------------------------------------------------------------------
def write_report(
    out_dir: Path, report: dict[str, Any], image_paths: dict[str, Path], graphs: list[dict[str, Any]]
) -> Path:
    """Write report.json, the figures and report.md into out_dir; return report.md's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = report["inference"]["items"]
    labels = report["etl"].get("classes", ["bicycle", "motorcycle"])
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    matrix = confusion_matrix(items, labels)
    draw_confusion_matrix(matrix, out_dir / "confusion_matrix.png")
    samples = sorted(items, key=lambda i: i["confidence"])[:6] + items[:: max(1, len(items) // 12)][:12]
    draw_sample_grid(samples[:18], image_paths, out_dir / "sample_predictions.png")
    thresholds = [round(0.5 + 0.01 * step, 2) for step in range(50)]
    curve = threshold_curve(items, thresholds)
    draw_threshold_curve(curve, report["inference"]["threshold"], out_dir / "accuracy_vs_threshold.png")
    for graph in graphs:
        draw_execution_graph(
            graph["definition"], graph["visited"], graph["status"], graph["title"], out_dir / graph["file"]
        )
    total = len(items)
    automatic = [i for i in items if i["route"] != "human_review"]
    correct = sum(1 for i in automatic if i["predicted_label"] == i["true_label"])
    lines = [
        "# Demo report",
        "",
        f"Dataset `{report['dataset']['source']}` (sha256 `{report['dataset']['sha256'][:16]}…`).",
        "",
        "## Training and gate",
        "",
        f"- training job `{report['training']['job_name']}`: {report['training']['seconds']:.1f} s",
        f"- accuracy {report['evaluation']['accuracy']:.4f} against threshold {report['evaluation']['threshold']}"
        f" → **{report['evaluation']['decision']}**",
        "",
        "## Inference over every test image",
        "",
        f"- {total} images through the inference state machine; {len(automatic)} decided automatically "
        f"(confidence ≥ {report['inference']['threshold']}), {total - len(automatic)} sent to human review",
        f"- accuracy of automatic decisions: {correct / len(automatic):.4f}" if automatic else "- none decided",
        f"- {report['inference'].get('decisions_published', 0)} decisions published on the decision bus "
        f"({', '.join(f'{route} {n}' for route, n in report['inference'].get('decisions_by_route', {}).items())})",
    ]
    api = report["inference"].get("api")
    if api:
        refused = ", ".join(f"{name} → {r['status']}" for name, r in api["refused"].items())
        lines.append(
            f"- HTTPS API (function URL, AWS_IAM): {api['answered']}/{api['requests']} signed requests answered "
            f"{api['routes']} (p50 {api['p50_seconds']} s), {api['decisions_published']} decisions published; "
            f"refused: {refused}"
        )
    probe = report["inference"].get("probe")
    if probe:
        lines.append(
            f"- synthetic probe (run now): {len(probe['checks'])} known images, {probe['failures']} failures ("
            + ", ".join(f"{c['s3_key'].rsplit('/', 1)[-1]} → {c['route']}" for c in probe["checks"])
            + ")"
        )
    lines += [
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        "![sample predictions](sample_predictions.png)",
        "",
        "![accuracy vs threshold](accuracy_vs_threshold.png)",
        "",
        "## Executions",
        "",
    ]
    lines += [f"![{g['title']}]({g['file']})\n" for g in graphs]
    lines += ["## Monitoring", ""]
    for index, monitoring_pass in enumerate(report["monitoring"]["passes"], 1):
        names = sorted({v["feature_name"] for v in monitoring_pass["violations"]})
        lines.append(
            f"- pass {index} ({monitoring_pass.get('name', '')}, engine {monitoring_pass.get('engine', '?')}): "
            f"{monitoring_pass.get('records')} records, {len(monitoring_pass['violations'])} "
            f"violations{': ' + ', '.join(names) if names else ''}"
            f"{'; retraining started' if monitoring_pass.get('retrain_started') else ''}"
        )
    iam = report.get("iam")
    if iam:
        lines += [
            "",
            "## IAM",
            "",
            f"{iam['calls_checked']} calls made on a role's behalf were checked against that role's policy as "
            f"Terraform rendered it; {len(iam['denied'])} denied (log: `iam-calls.jsonl`).",
            "",
            "| role | calls |",
            "| --- | --- |",
            *[f"| {role.rsplit('/', 1)[-1]} | {count} |" for role, count in sorted(iam["by_role"].items())],
        ]
        lines += [f"- denied: {c['principal']} {c['action']} on {c['resource']}" for c in iam["denied"][:10]]
    lines += ["", "## Timings", "", "| stage | seconds |", "| --- | --- |"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in report["timings"].items()]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
