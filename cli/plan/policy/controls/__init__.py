"""Built-in controls, one module per service; importing a module registers its controls."""

MODULES = (
    "rds",
    "s3",
    "elb",
    "ecs",
    "platform",
    "protection",
    "backup",
    "cache",
    "edge",
    "cost",
    "identity",
    "iam",
    "keys",
)
"""Modules under this package that hold built-in controls."""
