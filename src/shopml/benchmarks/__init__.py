"""Benchmark suites behind ``shopml bench CAPABILITY``; each writes JSON + Markdown to bench/results/."""
