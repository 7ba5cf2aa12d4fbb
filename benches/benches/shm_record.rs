//! Cost of recording into a child's shared-memory stats slot (molotov-core's `shm`), the
//! part of every response's bookkeeping that no other benchmark covers:
//! - `index_of`: the HdrHistogram-compatible bucket index of a latency;
//! - `record`: one latency into one histogram of a slot (relaxed load + store);
//! - `per_response`: everything the engine writes for one successful response on an open
//!   connection (requests, the request's sent count, in-flight up and down, the bytes sent
//!   and received that the client's meter adds, and the request's bytes received, responses,
//!   status, three histograms, the request's responses; connects and
//!   retries are added only when they happen, not per response);
//! - `merge_histogram`: what the master pays per histogram and per tick to rebuild an
//!   `hdrhistogram::Histogram` from a slot's 28,672 counters.
//!
//! Run: `cargo bench -p molotov-benches --bench shm_record`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use molotov_core::latency;
use molotov_core::shm::{Histo, Layout, Meta, Region, RequestCounter, Shape, Total};

/// Latencies in µs spread like a loopback run: mostly hundreds of µs, some ms, a few tens of ms.
fn latencies() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 100 {
                0..=79 => 200 + x % 800,
                80..=97 => 1_000 + x % 9_000,
                _ => 10_000 + x % 90_000,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let region = Region::new(Layout::new(Shape {
        requests: 4,
        scenarios: 2,
        checks: 4,
        slots: 1,
    }))
    .expect("map the stats region");
    let slot = region.slot(0);
    let values = latencies();
    let mut group = c.benchmark_group("shm");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("index_of", |b| {
        b.iter(|| {
            let mut sum = 0usize;
            for &v in &values {
                sum = sum.wrapping_add(latency::index_of(black_box(v)));
            }
            sum
        })
    });
    group.bench_function("record", |b| {
        b.iter(|| {
            for &v in &values {
                slot.record(Histo::Overall, black_box(v));
            }
        })
    });
    group.bench_function("per_response", |b| {
        b.iter(|| {
            for &v in &values {
                let v = black_box(v);
                // In the order of core/src/engine.rs's `EngineDriver::send` and `SlotMeter`.
                slot.add(Total::Requests, 1);
                slot.add_request(1, RequestCounter::Sent, 1);
                slot.add_meta(Meta::InFlight, 1);
                slot.add(Total::BytesSent, 64);
                slot.add(Total::BytesReceived, 160);
                slot.add_request(1, RequestCounter::BytesReceived, 160);
                slot.add_meta(Meta::InFlight, 1u64.wrapping_neg());
                slot.add(Total::Responses, 1);
                slot.add_status(200);
                slot.record(Histo::Overall, v);
                slot.record(Histo::Service, v);
                slot.record(Histo::Request(1), v);
                slot.add_request(1, RequestCounter::Responses, 1);
            }
        })
    });
    group.finish();
    let mut group = c.benchmark_group("shm");
    group.bench_function("merge_histogram", |b| {
        b.iter(|| {
            let mut h = latency::new_histogram();
            latency::add_counts(&mut h, slot.histogram_counts(Histo::Overall));
            h.len()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
