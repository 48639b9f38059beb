"""Entry point of the Pulumi program: read the stack's settings, then declare and export everything."""

from stacks import program, settings

program.build(settings.load())
