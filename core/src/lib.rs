//! molotov's engine: processes, glommio workers, shared-memory stats, load models and reports.
