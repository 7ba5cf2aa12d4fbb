//! Shared helpers for molotov benchmarks.
