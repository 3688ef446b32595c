"""CloudWatch alarm evaluation for the embedded AWS: an alarm's state computed from the metrics in moto.

moto stores alarms and metric data but never evaluates an alarm (its state stays where PutMetricAlarm or
SetAlarmState left it). SageMaker's deployment guardrails roll an update back when one of its
AutoRollbackConfiguration alarms is in ALARM, so the embedded endpoint deployer asks this module for the state of
those alarms while it bakes a new fleet, and the state it computes is written back to moto (DescribeAlarms,
DescribeAlarmHistory show it). Evaluation follows "Using Amazon CloudWatch alarms"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html) and its sections on
evaluating an alarm and on missing data:

* the last EvaluationPeriods periods of Period seconds are evaluated; each period's datapoint is the alarm's
  statistic (Sum, Average, Minimum, Maximum, SampleCount, or an ExtendedStatistic pNN) of the metric's datapoints
  with exactly the alarm's namespace, name and dimensions (and unit, when the alarm names one);
* metric math alarms (Metrics with one expression returning data) evaluate the subset of the metric math syntax
  the stack's alarms use: + - * /, comparisons, FILL(series, value), IF(condition, a, b), MAX([...]), MIN([...]),
  SUM([...]) (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html); an
  arithmetic result with a missing operand, or a division by zero, is a missing datapoint. Anything else is
  refused by name (AlarmNotEvaluable) and the alarm's state is left as it is;
* the alarm goes to ALARM when at least DatapointsToAlarm (default EvaluationPeriods) datapoints breach the
  threshold; missing datapoints count as TreatMissingData says (missing: left out, and INSUFFICIENT_DATA when no
  datapoint is left; notBreaching; breaching; ignore: the state does not change).

Limits, stated rather than hidden: periods end at the moment of evaluation instead of on minute boundaries, an
alarm is evaluated only when something asks (the endpoint deployer, every ALARM_POLL_SECONDS while it bakes a
fleet), not once a minute for every alarm in the account, and alarm actions (SNS topics, Auto Scaling) are not
run. Composite alarms and anomaly-detection thresholds are not evaluated.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Series = list[float | None]  # one datapoint (or None: missing) per evaluation period, oldest first
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


class AlarmNotEvaluable(Exception):
    """The alarm uses something this evaluator does not emulate (named in the message)."""


@dataclass(frozen=True)
class Evaluation:
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str
    datapoints: Series


def _backend(account: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account][region]


def _dimensions(dimensions: Any) -> frozenset[tuple[str, str]]:
    pairs = set()
    for dimension in dimensions or []:
        if isinstance(dimension, dict):
            pairs.add((str(dimension.get("Name")), str(dimension.get("Value"))))
        else:
            pairs.add((str(dimension.name), str(dimension.value)))
    return frozenset(pairs)


def _statistic(values: list[Any], statistic: str) -> float | None:
    """One period's statistic of moto's datapoints (single values, or aggregated StatisticValues)."""
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

    singles = [float(d.value) for d in values if isinstance(d, MetricDatum)]
    aggregates = [d for d in values if isinstance(d, MetricAggregatedDatum)]
    count = len(singles) + sum(float(a.sample_count) for a in aggregates)
    if count == 0:
        return None
    total = sum(singles) + sum(float(a.sum) for a in aggregates)
    if statistic == "Sum":
        return total
    if statistic == "SampleCount":
        return count
    if statistic == "Average":
        return total / count
    if statistic == "Minimum":
        return min(singles + [float(a.min) for a in aggregates])
    if statistic == "Maximum":
        return max(singles + [float(a.max) for a in aggregates])
    if statistic.startswith("p") and statistic[1:].replace(".", "", 1).isdigit():
        if aggregates:
            raise AlarmNotEvaluable(f"percentile {statistic} of aggregated StatisticValues is not emulated")
        ordered = sorted(singles)
        rank = max(1, math.ceil(float(statistic[1:]) / 100 * len(ordered)))  # nearest rank
        return ordered[min(rank, len(ordered)) - 1]
    raise AlarmNotEvaluable(f"statistic {statistic!r} is not emulated")


def metric_series(
    backend: Any,
    namespace: str,
    metric_name: str,
    dimensions: Any,
    statistic: str,
    period: int,
    periods: int,
    now: datetime,
    unit: str | None = None,
) -> Series:
    """The datapoint of each of the last `periods` periods (oldest first); None where the metric has no data."""
    wanted = _dimensions(dimensions)
    start = now - timedelta(seconds=period * periods)
    matching = [
        datum
        for datum in backend.get_all_metrics()
        if datum.namespace == namespace
        and datum.name == metric_name
        and _dimensions(datum.dimensions) == wanted
        and (unit is None or datum.unit == unit)
        and start <= _utc(datum.timestamp) <= now
    ]
    series: Series = []
    for index in range(periods):
        low = start + timedelta(seconds=period * index)
        high = low + timedelta(seconds=period)
        last = index == periods - 1
        in_period = [d for d in matching if low <= _utc(d.timestamp) < high or (last and _utc(d.timestamp) == high)]
        series.append(_statistic(in_period, statistic))
    return series


def _utc(moment: Any) -> datetime:
    """A datapoint's time as an aware datetime (moto keeps what PutMetricData sent: a datetime or a string)."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return datetime.min.replace(tzinfo=UTC)  # unreadable: outside every evaluation range
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- metric math ---------------------------------------------------------------------------------------------------
def _elementwise(a: Any, b: Any, operation: Callable[[float, float], float | None]) -> Any:
    if not isinstance(a, list) and not isinstance(b, list):
        return operation(a, b) if a is not None and b is not None else None
    size = len(a) if isinstance(a, list) else len(b)
    left = a if isinstance(a, list) else [a] * size
    right = b if isinstance(b, list) else [b] * size
    return [operation(x, y) if x is not None and y is not None else None for x, y in zip(left, right, strict=True)]


def _divide(x: float, y: float) -> float | None:
    return None if y == 0 else x / y


_BINARY: dict[type, Callable[[float, float], float | None]] = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
    ast.Div: _divide,
}
_COMPARE: dict[type, Callable[[float, float], float]] = {
    ast.Gt: lambda x, y: float(x > y),
    ast.GtE: lambda x, y: float(x >= y),
    ast.Lt: lambda x, y: float(x < y),
    ast.LtE: lambda x, y: float(x <= y),
    ast.Eq: lambda x, y: float(x == y),
    ast.NotEq: lambda x, y: float(x != y),
}


def evaluate_expression(expression: str, series: dict[str, Series]) -> Series:
    """A metric math expression over the given series (query id → datapoints), as a series."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise AlarmNotEvaluable(f"metric math expression {expression!r} is not emulated") from None
    size = len(next(iter(series.values()), []))

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in series:
                raise AlarmNotEvaluable(f"metric math: {node.id!r} is not a query of the alarm")
            return list(series[node.id])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _elementwise(value(node.operand), -1.0, lambda x, y: x * y)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _elementwise(value(node.left), value(node.right), _BINARY[type(node.op)])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return _elementwise(value(node.left), value(node.comparators[0]), _COMPARE[type(node.ops[0])])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return call(node.func.id, node.args)
        raise AlarmNotEvaluable(f"metric math expression {expression!r} uses syntax that is not emulated")

    def as_series(item: Any) -> Series:
        return item if isinstance(item, list) else [item] * size

    def call(name: str, args: list[ast.AST]) -> Any:
        if name == "FILL" and len(args) == 2:
            filler = value(args[1])
            return [filler if point is None else point for point in as_series(value(args[0]))]
        if name == "IF" and len(args) == 3:
            condition, yes, no = (as_series(value(arg)) for arg in args)
            return [None if c is None else (y if c != 0 else n) for c, y, n in zip(condition, yes, no, strict=True)]
        if name in {"MAX", "MIN", "SUM"} and len(args) == 1 and isinstance(args[0], ast.List):
            columns = [as_series(value(element)) for element in args[0].elts]
            reduce = {"MAX": max, "MIN": min, "SUM": sum}[name]
            result: Series = []
            for points in zip(*columns, strict=True):
                present = [p for p in points if p is not None]
                result.append(reduce(present) if present else None)
            return result
        raise AlarmNotEvaluable(f"metric math function {name} with {len(args)} arguments is not emulated")

    return as_series(value(tree.body))


# -- the alarm -----------------------------------------------------------------------------------------------------
def alarm_series(backend: Any, alarm: Any, now: datetime) -> Series:
    """The alarm's datapoints over its evaluation range."""
    periods = int(alarm.evaluation_periods or 1)
    if getattr(alarm, "rule", None):
        raise AlarmNotEvaluable(f"{alarm.name} is a composite alarm; composite alarms are not evaluated")
    if getattr(alarm, "threshold_metric_id", None):
        raise AlarmNotEvaluable(f"{alarm.name} compares with a band (ThresholdMetricId); not evaluated")
    if not alarm.metric_data_queries:
        statistic = alarm.extended_statistic or alarm.statistic
        return metric_series(
            backend,
            alarm.namespace,
            alarm.metric_name,
            alarm.dimensions,
            statistic,
            int(alarm.period),
            periods,
            now,
            alarm.unit,
        )
    computed: dict[str, Series] = {}
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            stat = query.metric_stat
            computed[query.id] = metric_series(
                backend,
                stat.metric.namespace,
                stat.metric.metric_name,
                stat.metric.dimensions,
                stat.stat,
                int(stat.period or query.period or 60),
                periods,
                now,
                stat.unit,
            )
    pending = [q for q in alarm.metric_data_queries if q.expression]
    while pending:  # an expression may use another one, defined before or after it
        ready = [q for q in pending if _names(q.expression) <= set(computed)]
        if not ready:
            raise AlarmNotEvaluable(f"{alarm.name}: the expressions {[q.id for q in pending]} use unknown queries")
        for query in ready:
            computed[query.id] = evaluate_expression(query.expression, computed)
            pending.remove(query)
    returned = [q for q in alarm.metric_data_queries if str(q.return_data).lower() == "true"]
    if not returned:  # ReturnData left out: the alarm's one expression is what it watches
        returned = [q for q in alarm.metric_data_queries if q.expression]
    if len(returned) != 1:
        raise AlarmNotEvaluable(f"{alarm.name}: exactly one query must return data, found {len(returned)}")
    return computed[returned[0].id]


def _names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise AlarmNotEvaluable(f"metric math expression {expression!r} is not emulated") from None
    functions = {
        node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - functions


def evaluate(alarm: Any, backend: Any, now: datetime | None = None) -> Evaluation:
    """The state the alarm's metrics put it in now."""
    now = now or datetime.now(UTC)
    series = alarm_series(backend, alarm, now)
    compare = COMPARISONS.get(alarm.comparison_operator)
    if compare is None:
        raise AlarmNotEvaluable(f"comparison {alarm.comparison_operator} (anomaly detection) is not evaluated")
    threshold = float(alarm.threshold)
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 1)
    treat = alarm.treat_missing_data or "missing"
    present = [point for point in series if point is not None]
    missing = len(series) - len(present)
    breaching = sum(1 for point in present if compare(point, threshold))
    if treat == "breaching":
        breaching += missing
    counted = len(series) if treat in {"breaching", "notBreaching"} else len(present)
    shown = ", ".join("missing" if p is None else f"{p:g}" for p in series)
    if counted == 0:
        state = alarm.state_value if treat == "ignore" else "INSUFFICIENT_DATA"
        reason = f"Insufficient Data: {len(series)} datapoints were unknown."
    elif breaching >= needed:
        state = "ALARM"
        reason = (
            f"Threshold Crossed: {breaching} out of the last {len(series)} datapoints [{shown}] "
            f"{'was' if breaching == 1 else 'were'} {WORDS[alarm.comparison_operator]} the threshold "
            f"({threshold:g}) (minimum {needed} datapoint{'s' if needed > 1 else ''} for OK -> ALARM transition)."
        )
    else:
        state = "OK"
        reason = (
            f"Threshold Crossed: no more than {breaching} out of the last {len(series)} datapoints [{shown}] "
            f"{WORDS[alarm.comparison_operator]} the threshold ({threshold:g})."
        )
    return Evaluation(state, reason, series)


def evaluate_alarms(account: str, region: str, names: list[str], now: datetime | None = None) -> dict[str, str]:
    """Evaluate the named alarms, record each new state in CloudWatch (with its reason), and return the states
    (an alarm that does not exist is reported as missing; one that cannot be evaluated keeps its state)."""
    backend = _backend(account, region)
    states: dict[str, str] = {}
    for name in names:
        alarm = backend.alarms.get(name)
        if alarm is None:
            states[name] = "MISSING"
            continue
        try:
            result = evaluate(alarm, backend, now)
        except AlarmNotEvaluable as error:
            states[name] = alarm.state_value
            alarm.state_reason = f"Not evaluated by the embedded AWS: {error}"
            continue
        if result.state != alarm.state_value:
            data = {"version": "1.0", "recentDatapoints": [p for p in result.datapoints if p is not None]}
            backend.set_alarm_state(name, result.reason, json.dumps(data), result.state)
        states[name] = result.state
    return states
