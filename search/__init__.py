"""Search: edge orders, Zero-Cost-PT (proposal + validation), benchmark lookups, the CLI."""
