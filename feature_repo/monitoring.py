"""Alert rules on the served model. `silage monitor run` evaluates them on the windows
completed so far (run it from cron: each alert is raised once per rule and window),
records the alerts, prints them and exits 1 when one fires; `--webhook URL` posts them.
"""

from store import AlertRule

conv_rate_drifts = AlertRule(
    name="conv_rate_drifts",
    model="trip_completion",
    metric="drift:conv_rate",
    op=">",
    threshold=0,
    window="1h",
    for_windows=2,
    description="Served conversion rates no longer look like the training data's",
    runbook="https://wiki.example.com/runbooks/trip-completion-drift",
)

accuracy_drops = AlertRule(
    name="accuracy_drops",
    model="trip_completion",
    metric="accuracy",
    op="<",
    threshold=0.62,
    window="1h",
    description="The primary model's calls in the last hour were right less often than "
    "in any calm hour (0.67 to 0.70): the world may have changed under it",
    runbook="https://wiki.example.com/runbooks/trip-completion-quality",
)

accuracy_low = AlertRule(
    name="accuracy_low",
    model="trip_completion",
    metric="accuracy",
    op="<",
    threshold=0.6,
    window="1d",
    description="The primary model completes fewer than 60% of its calls correctly",
    runbook="https://wiki.example.com/runbooks/trip-completion-quality",
)

slow_predictions = AlertRule(
    name="slow_predictions",
    model="trip_completion",
    metric="latency_p99_ms",
    op=">",
    threshold=250,
    window="1h",
    for_windows=3,
    description="Predictions take longer than the product's budget",
)
