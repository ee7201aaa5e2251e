"""opscore as a library: search from Python, read genotypes, build and describe the networks to retrain.

    import opscore
    result = opscore.search(space="nb201", dataset="synthetic", iterations=1, validation_batches=1)
    net = opscore.build_network(result.genotype)   # the network NB201's recipe trains, for any training loop

Settings take the names of `opscore search`'s flags (docs/commands.md); a mistake raises `opscore.SettingsError`
(a genotype's `opscore.GenotypeError`) with the CLI's one line. See docs/api.md.
"""
from .api import (Genotype, GenotypeError, SearchResult, SettingsError, build_network, describe, list_registered,
                  load_genotype, search)

list = list_registered  # noqa: A001  (opscore.list(): the registries, as `opscore list`)

__all__ = ["Genotype", "GenotypeError", "SearchResult", "SettingsError", "build_network", "describe", "list",
           "load_genotype", "search"]
