"""The connectivity smoke check: pre-flight checks, a keep-alive request run, SLO gates and reports."""
