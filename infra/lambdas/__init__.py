"""Sources of the stack's Lambda functions: each runs alone in the Lambda runtime, configured by its environment."""
