//! The per-request CPU work of a load worker with the network taken out: the plan
//! interpreter drives `FakeEngine` (molotov-core's driver logic: needs, the held bytes of a
//! static request, which the interpreter then does not render, or a request rendered per run,
//! response parsing with molotov-http, shared-memory recording) which answers every request
//! with nginx's 160-byte `{"ok":true}` response.
//! - `static_get`: `benches/plans/static.mol` (one literal GET, status only);
//! - `templated_check_capture`: `benches/plans/plan.mol` (templated URL rendered per run,
//!   body kept, `check jsonpath "$.ok" == true`, `capture ok = jsonpath "$.ok"`).
//!
//! Their ratio is the CPU side of the comparison's `plan` scenario (issue 9, target 2)
//! without the syscalls. Run: `cargo bench -p molotov-benches --bench plan_path`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use molotov_benches::fake::{
    FakeEngine, FakeRecorder, NGINX_OK, block_on, compile_plan, region_for, worker,
};
use molotov_benches::plans;
use molotov_dsl::{RunOutcome, ScenarioId};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_path");
    for (name, file, source) in [
        ("static_get", "static.mol", plans::STATIC),
        ("templated_check_capture", "plan.mol", plans::TEMPLATED),
    ] {
        let program = compile_plan(file, source).unwrap_or_else(|d| panic!("{file}: {d}"));
        let region = region_for(&program).expect("map the stats region");
        let slot = region.slot(0);
        let mut driver = FakeEngine::new(slot, NGINX_OK);
        let mut recorder = FakeRecorder::new(slot);
        let mut worker = worker(&program, 7, 1);
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome =
                    block_on(worker.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
                black_box(outcome == RunOutcome::Success)
            })
        });
        // The benchmark must have measured successful runs, not a failure path.
        let failures = slot.scenario(0, molotov_core::shm::ScenarioCounter::Failures);
        assert_eq!(slot.total(molotov_core::shm::Total::Errors), 0, "{name}");
        assert_eq!(failures, 0, "{name}");
        if program.checks().len() == 1 {
            assert_eq!(slot.check(0).1, 0, "{name}: the check must pass");
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
