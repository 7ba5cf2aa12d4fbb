//! molotov's engine: processes, workers on molotov-runtime, shared-memory stats, load models and reports.

pub mod child_output;
pub mod dump;
pub mod engine;
pub mod html_report;
pub mod json_report;
pub mod latency;
pub mod live;
pub mod load;
pub mod models_report;
pub mod out_queue;
pub mod preflight;
pub mod printable;
pub mod process;
pub mod report;
pub mod run;
pub mod series;
pub mod shm;
pub mod sizing;
pub mod statsd;
pub mod stderr;
pub mod summary;
pub mod thresholds;
