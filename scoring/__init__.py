"""Operation scoring: zero-cost proxies, operation scorers, selection rules."""
