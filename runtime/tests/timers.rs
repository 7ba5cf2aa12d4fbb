//! Timers wake on time: a parked executor's wait ends when its next timer is due, not a tick
//! after it (every think time, scenario delay and open-model start waits on a timer).

use std::time::{Duration, Instant};

#[test]
fn a_sleep_on_an_idle_executor_ends_within_a_millisecond_of_its_time() {
    // The least lateness of 20 sleeps: one sleep woken promptly is enough, so a busy machine
    // (a 2-CPU CI runner under load) that delays some wake-ups by milliseconds does not fail
    // it, while a wait that always ends a tick (1 ms) late does.
    let least = molotov_runtime::Executor::new()
        .run(async {
            let mut least = Duration::MAX;
            for _ in 0..20 {
                let due = Instant::now() + Duration::from_millis(3);
                molotov_runtime::timer::sleep(Duration::from_millis(3)).await;
                least = least.min(Instant::now().saturating_duration_since(due));
            }
            least
        })
        .expect("the executor (io_uring) runs");
    assert!(
        least < Duration::from_micros(900),
        "every sleep ended at least {least:?} after its time"
    );
}
