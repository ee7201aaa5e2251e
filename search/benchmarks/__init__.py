"""Benchmark lookups: one module per source (CSV table, NATS-Bench, NAS-Bench-Macro JSON, NAS-Bench-301
surrogate), one factory (`open_benchmarks`), and lookups that record failures instead of raising.

Data is loaded once, outside the search-space objects (as NASLib does).
"""
from .source import BENCHMARKS, Benchmark, BenchmarkError, metric_name
from .factory import open_benchmarks, open_table, parse_metrics
from .lookups import BenchmarkSet, merge_lookup
from .nats import NatsBenchmark
from .nb301 import NB301Benchmark
from .nb_macro import MacroBenchmark
from .settings import FREE, BenchmarkSettings
from .table import CsvBenchmark

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkError", "BenchmarkSet", "BenchmarkSettings", "CsvBenchmark", "FREE",
           "MacroBenchmark", "NB301Benchmark", "NatsBenchmark", "merge_lookup", "metric_name", "open_benchmarks",
           "open_table", "parse_metrics"]
