//! molotov's engine: processes, glommio workers, shared-memory stats, load models and reports.

pub mod latency;
pub mod shm;
pub mod process;
pub mod summary;
pub mod report;
pub mod live;
pub mod engine;
pub mod run;
pub mod series;
