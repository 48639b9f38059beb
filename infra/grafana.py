"""The stack's dashboard in a team's Grafana, reading CloudWatch through a data source of its own."""

from __future__ import annotations

import dataclasses
import json
import re

import pulumi
import pulumiverse_grafana as grafana

from infra import require, type_token
from infra.grafana_dashboard import DATA_SOURCE_TYPE

TYPE = type_token("grafana", "GrafanaDashboard")

_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GrafanaDashboardArgs:
    """Inputs of GrafanaDashboard."""

    dashboard_json: pulumi.Input[str]
    """The dashboard document (Monitoring.grafana_dashboard: the CloudWatch dashboard's panels)."""
    data_source_uid: str
    """uid of the CloudWatch data source, as the dashboard's queries name it."""
    region: str
    """Region the data source reads CloudWatch in."""
    grafana_url: str
    """Address of the Grafana instance (for the dashboard's link)."""


class GrafanaDashboard(pulumi.ComponentResource):
    """A CloudWatch data source and the dashboard, declared through the program's Grafana provider."""

    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(_UID.fullmatch(args.data_source_uid) is not None, "data_source_uid", args.data_source_uid,
                "1 to 40 letters, digits, - or _")  # fmt: skip
        super().__init__(TYPE, name, None, opts)
        # CloudWatch as Grafana reads it: with the Grafana server's own AWS credentials (no keys stored in
        # Grafana), in the stack's region.
        self.data_source = grafana.oss.DataSource(
            f"{name}-cloudwatch",
            type=DATA_SOURCE_TYPE,
            name=f"{name} CloudWatch",
            uid=args.data_source_uid,
            json_data_encoded=json.dumps({"authType": "default", "defaultRegion": args.region}, sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The dashboard: the same panels as the CloudWatch dashboard; Grafana's own edits are overwritten.
        self.dashboard = grafana.oss.Dashboard(
            f"{name}-dashboard",
            config_json=args.dashboard_json,
            overwrite=True,
            message="declared by the stack's program",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.data_source]),
        )
        # Grafana sends /d/<uid> on to the dashboard, whatever its title's slug.
        self.dashboard_url = pulumi.Output.concat(args.grafana_url.rstrip("/"), "/d/", self.dashboard.uid)
        self.register_outputs({"dashboard_url": self.dashboard_url, "data_source_uid": args.data_source_uid})
