"""The stack's Grafana, when its settings name one: a provider for it and the dashboard of the program's panels."""

from __future__ import annotations

import pulumi

from infra.dashboards import Monitoring
from infra.grafana import GrafanaDashboard, GrafanaDashboardArgs
from stacks.settings import StackSettings


def grafana(s: StackSettings, prefix: str, monitoring: Monitoring) -> GrafanaDashboard | None:
    """The dashboard and its CloudWatch data source in the team's Grafana; nothing without grafanaUrl."""
    if s.grafana_url is None or s.grafana_token is None:
        return None
    import pulumiverse_grafana

    # The team's Grafana, signed in to with a service account's token (a secret in the state, never in clear).
    provider = pulumiverse_grafana.Provider(
        f"{prefix}-grafana", url=s.grafana_url, auth=pulumi.Output.secret(s.grafana_token)
    )
    return GrafanaDashboard(
        f"{prefix}-grafana",
        GrafanaDashboardArgs(
            dashboard_json=monitoring.grafana_dashboard,
            data_source_uid=monitoring.grafana_data_source_uid,
            region=s.region,
            grafana_url=s.grafana_url,
        ),
        pulumi.ResourceOptions(providers={"grafana": provider}),
    )
