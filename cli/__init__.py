"""The infra command-line interface over the Pulumi Automation API."""
