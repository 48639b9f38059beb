"""Monthly cost of an offline plan: price tables, per-resource arithmetic, deltas between plans, budgets."""
