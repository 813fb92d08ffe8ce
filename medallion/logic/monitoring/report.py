"""A window's measures as a markdown summary and a PNG chart (drift per feature, AUC over time)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from medallion.logic.monitoring.drift import MODERATE_BELOW, STABLE_BELOW
from medallion.logic.monitoring.measures import WindowMeasures

TOP_FEATURES = 5
CHART_FEATURES = 15
LEVEL_COLOURS = {"stable": "tab:green", "moderate": "tab:orange", "major": "tab:red"}


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def _live_auc(performance: dict) -> str:
    """A performance row's AUC with its 95 % interval half-width and the labels it was measured on."""
    se = performance["roc_auc_se"]
    interval = f" ± {1.96 * se:.4f} (95%)" if se is not None else ""
    return f"{_number(performance['roc_auc'])}{interval} on {performance['matured_labels']}"


def monitoring_markdown(measures: WindowMeasures, top: int = TOP_FEATURES) -> str:
    """Headline measures, the top drifting features, performance per version and the champion's calibration."""
    champion = measures.champion_version
    n_predictions = int(measures.predictions_per_version["n"].sum() or 0)
    lines = [
        f"**Window** {measures.window[0]}..{measures.window[1]} · champion "
        + (
            f"v{champion} (holdout AUC {_number(measures.holdout_auc)} on {measures.holdout_rows} rows)"
            if champion
            else "none"
        )
        + f" · {n_predictions} predictions",
        "",
    ]
    rows = []
    for version, psi, level, n, p in measures.prediction_drift.iter_rows():
        rows.append([f"prediction PSI v{version}", f"{psi:.3f} ({level}, {n} out-of-sample rows, no-drift p {p:.2g})"])
    for r in measures.performance.iter_rows(named=True):
        excluded = measures.in_sample_excluded.get(r["model_version"], 0)
        rows.append(
            [
                f"live AUC v{r['model_version']}",
                f"{_live_auc(r)} out-of-sample matured labels"
                + (f" ({excluded} in-sample left out)" if excluded else ""),
            ]
        )
        rows.append([f"Brier v{r['model_version']}", _number(r["brier"])])
    if measures.deployed is not None and measures.performance.height > 1:
        deployed = measures.deployed.row(0, named=True)
        rows.append(
            ["live AUC, deployed overall", f"{_live_auc(deployed)} matured labels of every version that served"]
        )
    if not measures.performance.height:
        excluded = sum(measures.in_sample_excluded.values())
        text = (
            f"no out-of-sample matured labels in the window ({excluded} in-sample left out)"
            if excluded
            else "no matured labels in the window"
        )
        rows.append(["live AUC", text])
    quarantine = (
        measures.quarantine.group_by("feed").agg(pl.col("quarantined").sum(), pl.col("rows").sum()).sort("feed")
    )
    for feed, quarantined, total in quarantine.iter_rows():
        rows.append(
            [
                f"quarantine rate {feed}",
                f"{quarantined / total:.2%} ({quarantined}/{total})" if total else "no rows landed",
            ]
        )
    if measures.null_rates.height:
        worst = (
            measures.null_rates.group_by("feature")
            .agg(pl.col("null_rate").mean())
            .sort("null_rate", descending=True)
            .row(0)
        )
        rows.append(["highest mean null rate", f"{worst[0]} {worst[1]:.2%}"])
    lines += _table(["measure", "value"], rows)
    if measures.feature_drift.height:
        lines += ["", f"**Top drifting features** (PSI against v{champion}'s training reference)", ""]
        lines += _table(
            ["feature", "PSI", "level", "no-drift p", "group"],
            [
                [f, f"{psi:.3f}", level, f"{p:.2g}", group]
                for f, psi, level, p, group in measures.feature_drift.head(top).iter_rows()
            ],
        )
    calibration = (
        measures.calibration.filter(pl.col("model_version") == champion) if champion else measures.calibration.clear()
    )
    if calibration.height:
        lines += ["", f"**Calibration v{champion}** (equal-count bins)", ""]
        lines += _table(
            ["bin", "mean predicted", "observed", "rows"],
            [[str(b), f"{p:.3f}", f"{o:.3f}", str(n)] for _, b, p, o, n in calibration.iter_rows()],
        )
    return "\n".join(lines)


def plot_monitoring(measures: WindowMeasures, path: str | Path) -> Path:
    """Left: PSI per feature (most drifted first) with the stable/major lines. Right: daily live AUC per version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (drift_ax, auc_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    drift = measures.feature_drift.head(CHART_FEATURES).reverse()
    if drift.height:
        drift_ax.barh(
            drift["feature"].to_list(), drift["psi"].to_list(), color=[LEVEL_COLOURS[level] for level in drift["level"]]
        )
        for edge in (STABLE_BELOW, MODERATE_BELOW):
            drift_ax.axvline(edge, color="grey", linestyle="--", linewidth=0.8)
    else:
        drift_ax.text(
            0.5, 0.5, "no drift reference or no features", ha="center", va="center", transform=drift_ax.transAxes
        )
    drift_ax.set_xlabel("PSI")
    drift_ax.set_title(f"Feature drift {measures.window[0]}..{measures.window[1]}")
    if measures.daily_auc.height:
        for (version,), group in measures.daily_auc.group_by("model_version", maintain_order=True):
            auc_ax.plot(group["day"].to_list(), group["roc_auc"].to_list(), marker="o", label=f"v{version}")
        if measures.holdout_auc is not None:
            auc_ax.axhline(
                measures.holdout_auc, color="grey", linestyle="--", label=f"holdout v{measures.champion_version}"
            )
        auc_ax.legend(loc="lower left")
        auc_ax.tick_params(axis="x", labelrotation=30)
    else:
        auc_ax.text(0.5, 0.5, "no matured labels yet", ha="center", va="center", transform=auc_ax.transAxes)
    auc_ax.set_ylabel("ROC AUC (out-of-sample matured labels)")
    auc_ax.set_xlabel("prediction day")
    auc_ax.set_title("Live AUC over time")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
