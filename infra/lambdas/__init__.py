"""Lambda sources: each module is zipped alone as the function's code, never imported by the Pulumi program."""
