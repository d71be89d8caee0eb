"""Continual learning: when the served model is retrained, on what, and how it ships.

`silage monitor run` evaluates the policy after the alert rules. It fires when the hourly
accuracy drops or conv_rate drifts (alerts of feature_repo/monitoring.py), or at the latest
once 2,500 outcomes have arrived since the last retraining; it then joins
the recent labelled trips with the same features (point in time), calls `train`, registers
the model with lineage to that training set and ships it as a 50% canary beside the
primary, where an experiment decides (`silage experiments report`, `silage promote
--if-better`).
"""

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from store import FileSource, RetrainingPolicy


def train(context):
    """The same recipe as the first models, on the fresh training set."""
    data = context.data
    features = list(context.features)
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        StandardScaler(),
        LogisticRegression(C=1.0),
    ).fit(data[features], data[context.label])


refresh = RetrainingPolicy(
    name="trip_completion_refresh",
    model="trip_completion",
    train=train,
    labels=FileSource(
        name="recent_trips",
        path="data/recent_trips.parquet",
        timestamp_field="event_timestamp",
    ),
    label="completed",
    lookback="2d",
    on_alerts=["accuracy_drops", "conv_rate_drifts"],
    new_outcomes=2500,
    deploy_as="canary",
    canary_share=50,
)
