"""Analyses of proxies and scorers against a benchmark table (the logic behind `opscore proxies` and
`opscore analyze ...`): each writes a CSV, a PNG and result.json into its run directory."""
