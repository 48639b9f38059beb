"""Post-deploy verification: the live stack checked against its outputs and settings through the AWS APIs."""
