"""The metrics a run reports: one row per month, one column per dotted metric name.

Columns are named from the scenario's groups and lab kinds, so they split cleanly on dots:
``access.run.global_south``, ``api_share.run.global_south``, ``capture.frontier_closed``,
``market.gpu_price``. The names live
here, light to import; :mod:`simulation.collector` measures them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulation.config import Config

TASKS = ("run", "finetune", "deploy")
# The headline metrics beyond access: the run summary prints them, plots draw them by default.
KEY_METRICS = (
    "capability.frontier",
    "capability.best_open",
    "capture.private",
    "market.gpu_price",
    "market.hosting_hhi",
    "stranded.deployments",
    "public.spend",
    "public.utilisation",
)
# Money an institution accounts for each month: the totals, then one column per institution.
PUBLIC_MONEY = ("budget", "spend", "diverted", "carried_over", "utilisation", "compute_uptake")


def metric_names(
    groups: list[str],
    lab_kinds: list[str],
    institutions: list[str] | tuple[str, ...] = (),
    languages: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """The metric columns of a scenario, in the order runs report them.

    Args:
        groups: The scenario's researcher group names.
        lab_kinds: The scenario's lab kind names.
        institutions: The names of its institutions with a budget
            (``Config.spending_institutions``): each gets its own money columns.
        languages: Its language names: each gets access columns of its own.

    Returns:
        The dotted metric names.
    """
    names = [f"access.{t}.{g}" for t in TASKS for g in groups]
    names += [f"access.{t}.language.{lang}" for t in TASKS for lang in languages]
    names += [f"api_share.{t}.{g}" for t in TASKS for g in groups]
    names += ["capability.frontier", "capability.best_open", "capability.open_lag_months"]
    names += [f"capability.reached.{g}" for g in groups]
    names += [f"capability.best.{k}" for k in lab_kinds]
    names += [f"capture.{k}" for k in lab_kinds] + ["capture.private"]
    names += [f"absorbed.{k}" for k in lab_kinds]
    names += ["contributions.published_share"]
    names += [f"openness.{k}" for k in lab_kinds] + [f"income.{k}" for k in lab_kinds]
    names += ["economy.ai_spend"]
    names += [f"downloads.{k}" for k in lab_kinds]
    names += [f"downloads.top_release.{k}" for k in lab_kinds]
    names += ["downloads.derivatives", "downloads.top_decile_share"]
    names += ["downloads.top1pct_download_share", "downloads.zero_download_share"]
    names += ["releases.derivatives", "frontier.training_cost_usd"]
    names += ["market.gpu_price", "market.hosting_hhi", "stranded.deployments"]
    names += [f"public.{money}" for money in PUBLIC_MONEY]
    names += [f"public.{money}.{i}" for i in institutions for money in PUBLIC_MONEY]
    return names


def scenario_metric_names(config: Config) -> list[str]:
    """The metric columns a run of ``config`` reports (``metric_names`` for its tables)."""
    return metric_names(
        list(config.groups),
        list(config.labs),
        list(config.spending_institutions()),
        list(config.languages),
    )


SHARE = "share, 0-1"
CAPABILITY = "log10 effective GPU-hours"
GROUP_SHARE = "share of the group, 0-1"

# Unit and one-line description of every metric (ODD section 4.11): exact names first, then the
# families named after the scenario's groups and lab kinds, matched by prefix in this order.
_EXACT = {
    "capability.frontier": (CAPABILITY, "best model capability released so far"),
    "capability.best_open": (
        CAPABILITY,
        "best capability among the labs' non-revoked releases with downloadable weights "
        "(community derivatives not counted)",
    ),
    "capability.open_lag_months": (
        "months",
        "open-weight lag: months since the frontier first reached the best usable open-weight "
        "capability, from release dates (models that exist at the start keep their real dates)",
    ),
    "economy.ai_spend": (
        "USD per month",
        "what the rest of the economy pays for AI models this month (grows with the frontier)",
    ),
    "capture.private": (
        "share of community value, 0-1",
        "share of all value absorbed so far (over all labs) absorbed by labs whose licence was "
        "closed or restricted at the time, or kept by a lab's API as usage data",
    ),
    "contributions.published_share": (
        SHARE,
        "share of this month's would-be contributions their makers published (the rest kept "
        "private or abstained)",
    ),
    "downloads.top_decile_share": (
        SHARE,
        "share of this month's downloads (runs and fetches of search finds to evaluate them) "
        "taken by the top tenth of all open-weight releases published so far (community "
        "derivatives included)",
    ),
    "downloads.top1pct_download_share": (
        SHARE,
        "share of this month's downloads (runs and fetches of search finds) taken by the top 1% "
        "of all open-weight releases published so far (community derivatives included)",
    ),
    "downloads.zero_download_share": (
        SHARE,
        "share of all open-weight releases published so far (community derivatives included) "
        "that no simulated researcher ran or fetched to evaluate this month",
    ),
    "downloads.derivatives": (
        SHARE,
        "share of this month's open-weight model runs on community derivatives",
    ),
    "releases.derivatives": (
        "releases",
        "community derivatives published so far (simulated researchers' fine-tunes)",
    ),
    "frontier.training_cost_usd": (
        "USD",
        "what the training run that set the current frontier paid the hosters for its GPU-hours",
    ),
    "market.gpu_price": (
        "USD per GPU-hour",
        "capacity-weighted mean GPU-hour price of the independent commercial hosters",
    ),
    "market.hosting_hhi": (
        "Herfindahl index, 0-1",
        "concentration of the GPU-hours sold to researchers across hosters",
    ),
    "stranded.deployments": (
        "deployments (real researchers)",
        "deployments stranded by a revoked licence or a withdrawn host, not yet migrated or "
        "abandoned",
    ),
    "public.budget": (
        "USD per month",
        "public money appropriated this month: nominal budgets after cuts, 0 while a lapse "
        "interrupts funding (0 without an institution)",
    ),
    "public.spend": (
        "USD per month",
        "public money that left the budget this month: provision, overhead and diverted rent, "
        "net of fees researchers paid back (0 without an institution)",
    ),
    "public.diverted": ("USD per month", "public money diverted as rent after capture"),
    "public.carried_over": (
        "USD",
        "public money not used this month, carried into the next (rechannelled or carried over)",
    ),
    "public.utilisation": (
        SHARE,
        "share of the public money available this month that was put to use (undefined, NaN, "
        "without a public institution)",
    ),
    "public.compute_uptake": (
        SHARE,
        "share of the public compute money (credits or public hoster capacity) researchers used "
        "this month (NaN without a compute channel)",
    ),
}
_FAMILIES = (  # {} is the group, lab kind, institution or language the column is about
    (
        "access.run.language.",
        SHARE,
        "share of researchers needing the {} language(s) who ran a capable model this month",
    ),
    (
        "access.finetune.language.",
        SHARE,
        "share of researchers needing the {} language(s) who ran a capable model with a "
        "fine-tune of it this month",
    ),
    (
        "access.deploy.language.",
        SHARE,
        "share of researchers needing the {} language(s) with a capable model deployed this month",
    ),
    (
        "openness.",
        SHARE,
        "share of the {} labs with a model that still release weights (NaN: none has one)",
    ),
    (
        "income.",
        "USD per month",
        "money the {} labs received this month: sales, API revenue, investment, grants, "
        "public funding",
    ),
    (
        "absorbed.",
        "community value (value units)",
        "community value embedded so far by {} labs (home contributions and the commons stock) "
        "and usage data their APIs kept",
    ),
    ("public.budget.", "USD per month", "money appropriated to the {} institution this month"),
    ("public.spend.", "USD per month", "money that left the {} institution's budget this month"),
    ("public.diverted.", "USD per month", "money the {} institution lost to rent this month"),
    ("public.carried_over.", "USD", "money the {} institution carried into next month"),
    ("public.utilisation.", SHARE, "share of the {} institution's available money put to use"),
    (
        "public.compute_uptake.",
        SHARE,
        "share of the {} institution's compute money researchers used",
    ),
    (
        "access.run.",
        GROUP_SHARE,
        "share of {} researchers who ran a capable model this month (own hardware, a hoster or "
        "a lab's API)",
    ),
    (
        "access.finetune.",
        GROUP_SHARE,
        "share of {} researchers who ran a capable model this month with a fine-tune of it, "
        "made this month or kept from an earlier one (own hardware, a hoster or a lab's API)",
    ),
    (
        "access.deploy.",
        GROUP_SHARE,
        "share of {} researchers with a capable model deployed this month (own hardware, a "
        "hoster or a lab's API)",
    ),
    (
        "api_share.run.",
        SHARE,
        "of the {} researchers who ran a capable model this month, the share who ran it "
        "through a lab's API (NaN if none did)",
    ),
    (
        "api_share.finetune.",
        SHARE,
        "of the {} researchers counted in access.finetune this month, the share whose "
        "fine-tune was made through a lab's API (NaN if none)",
    ),
    (
        "api_share.deploy.",
        SHARE,
        "of the {} researchers with a capable model deployed this month, the share deployed "
        "through a lab's API (NaN if none)",
    ),
    (
        "capability.reached.",
        CAPABILITY,
        "mean capability of the model used, over the {} researchers who ran one",
    ),
    (
        "capability.best.",
        CAPABILITY,
        "best capability among the {} labs' own releases not revoked so far, weights or API "
        "(NaN before their first)",
    ),
    (
        "capture.",
        "share of community value, 0-1",
        "share of all value absorbed so far (over all labs) absorbed by {} labs",
    ),
    (
        "downloads.top_release.",
        "downloads per month (real researchers)",
        "this month's users of the most downloaded {} release (0 if it has none)",
    ),
    (
        "downloads.",
        "share of downloads, 0-1",
        "share of this month's open-weight model runs on {} models",
    ),
)


def metric_info(name: str) -> tuple[str, str] | None:
    """The unit and one-line description of a metric, or None if ``name`` is not one.

    Args:
        name: A dotted metric name, e.g. ``access.run.global_south``.

    Returns:
        ``(unit, description)``; the description names the group or lab kind it is about.
    """
    if name in _EXACT:
        return _EXACT[name]
    for prefix, unit, description in _FAMILIES:
        if name.startswith(prefix) and "." not in name[len(prefix) :]:
            return unit, description.format(name[len(prefix) :])
    return None
