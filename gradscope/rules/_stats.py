"""Shared arithmetic for the rules: robust per-layer summaries of finite values, findings helpers, formatting.

Every rule reads the same few views of a RunRecord, so they live here once. numpy and pandas are imported inside
the functions, keeping ``import gradscope.rules`` (which the CLI may need for ``--help``) free of them.

Non-finite gradients: ``RunRecord.layer_grad_norms()`` and ``total_grad_norms()`` are NaN/Inf wherever one of the
summed gradients is, so the summaries below keep finite cells only; the `nonfinite` rule reports the others.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from gradscope.rules.finding import Finding

if TYPE_CHECKING:
    import pandas as pd

    from gradscope.table.record import RunRecord


def pct(fraction: float) -> str:
    """A fraction as a percentage with one decimal: 0.625 -> '62.5%'."""
    return f"{fraction:.1%}"


def threshold(thresholds: Mapping[str, float], key: str) -> float:
    """The threshold for `key`, falling back to the documented default when the mapping lacks it."""
    if key in thresholds:
        return float(thresholds[key])
    from gradscope.rules import DEFAULT_THRESHOLDS  # here, not at import: the rules import this module first

    return float(DEFAULT_THRESHOLDS[key])


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def with_grad(record: "RunRecord") -> "pd.DataFrame":
    """Rows of record.params that hold a gradient (has_grad True), with grad_norm as float."""
    df = record.params
    if len(df) == 0:
        return df.iloc[0:0]
    df = df[df["has_grad"].astype(bool)]
    return df.assign(grad_norm=df["grad_norm"].astype(float))


def bad_grads(record: "RunRecord") -> "pd.DataFrame":
    """Rows whose gradient exists but is NaN or +-Inf, in table order."""
    import numpy as np

    df = with_grad(record)
    return df[~np.isfinite(df["grad_norm"].to_numpy(dtype=float))]


def layer_grads(record: "RunRecord") -> "pd.DataFrame":
    """Step x layer gradient norms (forward order) with every non-finite cell set to NaN."""
    import numpy as np

    table = record.layer_grad_norms().astype(float)
    return table.where(np.isfinite(table.to_numpy()))


def layer_summaries(table: "pd.DataFrame") -> dict[str, float]:
    """Per layer of a `layer_grads` table, in its (forward) order: the median of its finite gradient norms, or NaN.

    The median is robust to a few spiky steps and ignores steps where the layer had no gradient.
    """
    return {str(c): _median(table[c]) for c in table.columns}


def zero_layers(table: "pd.DataFrame") -> set[str]:
    """Layers of a `layer_grads` table with a finite gradient at some step and exactly 0 at all such steps."""
    return {str(c) for c in table.columns if table[c].notna().any() and (table[c].dropna() == 0).all()}


def total_grad_norms(record: "RunRecord") -> list[tuple[int, float]]:
    """(step, global gradient norm) for the steps where every gradient was finite and at least one existed."""
    return [(s, v) for s, v in enumerate(record.total_grad_norms()) if math.isfinite(v)]


def _median(values: "pd.Series") -> float:
    import numpy as np

    arr = values.to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else math.nan


def late_activation_fractions(record: "RunRecord", kind: str) -> dict[str, tuple[float, int]]:
    """Per activation layer (first-seen order): (median `fraction` over its last half of sampled steps, samples used).

    Reads ``record.activations`` rows of the given kind ("dead" or "saturated") with a finite fraction. The last half
    is the last ceil(m / 2) of the m steps at which that layer was sampled, so stats taken every k-th step still work.
    """
    import numpy as np

    acts = record.activations
    if acts is None or len(acts) == 0 or not {"step", "layer", "kind", "fraction"} <= set(acts.columns):
        return {}
    acts = acts[acts["kind"] == kind].assign(fraction=lambda d: d["fraction"].astype(float))
    acts = acts[np.isfinite(acts["fraction"].to_numpy())]
    out = {}
    for layer, rows in acts.groupby("layer", sort=False):
        steps = sorted(rows["step"].unique())
        late = rows[rows["step"].isin(steps[len(steps) // 2:])]
        out[str(layer)] = (float(np.median(late["fraction"].to_numpy())), len(late))
    return out


def fraction_findings(record: "RunRecord", thresholds: Mapping[str, float], *, rule: str, severity: str, kind: str,
                      what: str, hint: str) -> list["Finding"]:
    """One finding per activation layer whose late median fraction of `kind` exceeds thresholds["<rule>.fraction"].

    `what` completes "62.5% of net.3's ...", e.g. "units were dead".
    """
    limit = threshold(thresholds, f"{rule}.fraction")
    return [Finding(rule=rule, severity=severity, layer=layer, step=None, hint=hint,
                    message=(f"{pct(frac)} of {layer}'s {what} (median over its last "
                             f"{plural(n, 'sampled step', 'sampled steps')}; threshold {pct(limit)})"),
                    evidence={"fraction": frac, "samples": n})
            for layer, (frac, n) in late_activation_fractions(record, kind).items() if frac > limit]


# Layer kinds whose gradient norm is not comparable with a weight matrix's: an embedding's gradient lives on the few
# rows a batch touches (its whole-matrix norm is tiny by construction), and a norm layer's few scale/shift weights
# have a tiny norm whatever the health of the net. Matched as substrings of the module's class name.
INCOMPARABLE_KINDS = ("Embedding", "Norm")


def comparable_layers(record: "RunRecord") -> list[str]:
    """The layers (forward order) the cross-layer rules may compare: not embeddings, not normalisation layers."""
    return [layer.name for layer in record.layers if not any(k in layer.type for k in INCOMPARABLE_KINDS)]


def relative_grad_summaries(record: "RunRecord") -> dict[str, float]:
    """Per comparable layer (forward order): median ||grad|| over median ||weights||, the relative gradient.

    Raw norms grow with a layer's size; dividing by the layer's own weight norm makes a wide layer and a narrow one
    comparable (the norms' ratio is what SGD changes per unit learning rate). Parameter norms are only taken every
    stats_every steps, hence the ratio of medians. A layer without a finite positive weight norm keeps its raw median.
    """
    grads = layer_summaries(layer_grads(record))
    params = layer_summaries(record.layer_param_norms().astype(float))
    out = {}
    for name in comparable_layers(record):
        g, w = grads.get(name, math.nan), params.get(name, math.nan)
        out[name] = g / w if math.isfinite(w) and w > 0 else g
    return out


def raw_grad_summaries(record: "RunRecord") -> dict[str, float]:
    """Per comparable layer (forward order): the median of its finite gradient norms, not divided by anything.

    The cross-layer rules require a ratio to hold under both this and `relative_grad_summaries`: each has a blind
    spot the other covers. Raw norms grow with a layer's size; relative ones shrink for a layer whose weights are
    themselves the anomaly (an output layer scaled up 50x makes every layer below it look 1e3x "larger")."""
    summaries = layer_summaries(layer_grads(record))
    return {name: summaries.get(name, math.nan) for name in comparable_layers(record)}


def early_update_ratios(record: "RunRecord", steps: int) -> dict[str, tuple[float, int]]:
    """Per comparable layer: (largest ||update|| / ||weights|| over its first `steps` recorded steps, at which step).

    Only cells with a finite update and a finite, positive weight norm count, and only layers whose first recorded
    weight norm is positive: a zero-initialised layer has no scale, and its second step is as large as its first
    (whose size is now its whole weight norm), a ratio near 1 (2 with momentum) that means nothing.
    """
    import numpy as np

    updates = record.layer_update_norms().astype(float).iloc[:steps]
    params = record.layer_param_norms().astype(float).iloc[:steps]
    out = {}
    for name in comparable_layers(record):
        if name not in updates.columns:
            continue
        u, w = updates[name].to_numpy(), params[name].to_numpy()
        first = w[np.isfinite(w)][:1]
        if not (first.size and first[0] > 0):
            continue
        ok = np.isfinite(u) & np.isfinite(w) & (w > 0)
        if ok.any():
            ratio = np.where(ok, u / np.where(ok, w, 1.0), -np.inf)
            i = int(np.argmax(ratio))
            out[name] = (float(ratio[i]), int(updates.index[i]))
    return out


def several_models(record: "RunRecord") -> bool:
    """True when the run trained several models or stepped several optimizers (a GAN): their losses play against
    each other, so no single loss is meant to fall. Read from meta "models" / "optimizers" (counts, which `run`
    records), else from an optimizer field naming more than one kind ("Adam, SGD")."""
    meta = record.meta if isinstance(record.meta, dict) else {}
    counts = [meta.get(key) for key in ("models", "optimizers")]
    if any(isinstance(c, int) and c > 1 for c in counts):
        return True
    return isinstance(meta.get("optimizer"), str) and "," in meta["optimizer"]


def is_output_activation(record: "RunRecord", name: str | None) -> bool:
    """True for an activation module that ends the model: "net.7" when net.6 is the model's last parameter layer and
    no parameter layer of net comes after index 7. Only indexed children (Sequential) can be placed this way."""
    if not name or not record.layers:
        return False
    parent, _, index = name.rpartition(".")
    if not index.isdigit():
        return False
    siblings = {}
    for layer in record.layers:
        p, _, i = layer.name.rpartition(".")
        if p == parent and i.isdigit():
            siblings[int(i)] = layer.name
    if not siblings:
        return False
    last = max(siblings)
    return int(index) > last and record.layers[-1].name == siblings[last]


def natural_scale(meta: Mapping[str, Any]) -> tuple[str, float, float, str] | None:
    """(what, start scale, end scale, how the end is named) from meta, or None when the loss has no known scale."""
    classes = meta.get("classes")
    if isinstance(classes, int) and classes >= 2:
        chance = math.log(classes)
        return f"ln {classes} = {chance:.3g}", chance, chance, "chance"
    second, variance = meta.get("target_second_moment"), meta.get("target_variance")
    if isinstance(second, float) and isinstance(variance, float) and second > 0 and variance > 0:
        # An untrained net's outputs have a variance of up to ~1 whatever the targets' units (PyTorch's default init
        # shrinks the signal, He init keeps it), so a step-0 MSE up to E[y^2] + 1 is normal: a sigmoid autoencoder
        # on pixels that are mostly 0 starts at 0.25 against E[y^2] = 0.08.
        return f"E[y^2] + 1 = {second + 1:.3g}", second + 1, variance, f"predicting the mean ({variance:.3g})"
    return None


def tenth_means(losses: list[float]) -> tuple[float, float, int]:
    """(mean of the first k, mean of the last k, k) with k = max(1, n // 10): the two ends of a run, each averaged over
    a tenth of it to smooth minibatch noise. `losses` must be non-empty."""
    k = max(1, len(losses) // 10)
    return sum(losses[:k]) / k, sum(losses[-k:]) / k, k


def loss_change(losses, min_steps: int) -> float | None:
    """(mean of the last tenth - mean of the first tenth) / |first tenth's mean| of a run's losses; None when fewer
    than `min_steps` losses were seen, any is NaN/Inf, or the first tenth's mean is 0 (no scale to compare with)."""
    values = [float(v) for v in losses if v is not None]
    if len(values) < min_steps or not all(math.isfinite(v) for v in values):
        return None
    first, last, _ = tenth_means(values)
    return (last - first) / abs(first) if first != 0 else None
