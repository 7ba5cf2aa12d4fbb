//! molotov's engine: processes, glommio workers, shared-memory stats, load models and reports.

pub mod dump;
pub mod engine;
pub mod latency;
pub mod live;
pub mod process;
pub mod report;
pub mod run;
pub mod series;
pub mod shm;
pub mod summary;
