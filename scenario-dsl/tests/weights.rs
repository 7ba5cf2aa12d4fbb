//! Weighted scenario choice: the observed frequencies match the weights (chi-square test),
//! and the per-worker RNG makes a run reproducible from its seed.

mod support;

use support::*;

const BASE: &str = "defaults {\n  base http://127.0.0.1:8080\n}\n";

fn plan_with_weights(weights: &[u32]) -> String {
    let mut s = BASE.to_string();
    for (i, w) in weights.iter().enumerate() {
        s.push_str(&format!("scenario s{i} weight {w} {{\n  GET /{i}\n}}\n"));
    }
    s
}

/// Pearson's chi-square statistic of observed counts against weights.
fn chi_square(counts: &[u64], weights: &[u32]) -> f64 {
    let n: u64 = counts.iter().sum();
    let total: u32 = weights.iter().sum();
    counts
        .iter()
        .zip(weights)
        .map(|(&c, &w)| {
            let expected = n as f64 * f64::from(w) / f64::from(total);
            (c as f64 - expected).powi(2) / expected
        })
        .sum()
}

/// Critical values of the chi-square distribution at p = 0.001.
fn critical(df: usize) -> f64 {
    [10.83, 13.82, 16.27, 18.47, 20.52][df - 1]
}

#[test]
fn weights_hold_statistically() {
    const DRAWS: usize = 60_000;
    for weights in [
        &[70u32, 30][..],
        &[1, 2, 7],
        &[5, 5, 5, 5],
        &[1, 1000],
        &[3, 1, 4, 1, 5, 9],
    ] {
        let p = program(&plan_with_weights(weights));
        assert_eq!(
            p.scenarios().iter().map(|s| s.weight).collect::<Vec<_>>(),
            weights
        );
        for worker_id in [0u64, 1, 99] {
            let mut w = worker_with(&p, worker_id, 2024, molotov_dsl::Globals::empty());
            let mut counts = vec![0u64; weights.len()];
            for _ in 0..DRAWS {
                counts[w.pick_scenario().index()] += 1;
            }
            let df = weights.len() - 1;
            if df > 5 {
                // Six scenarios: 5 degrees of freedom is the table's last row.
                assert!(
                    chi_square(&counts, weights) < 20.52,
                    "{weights:?} {counts:?}"
                );
            } else {
                let x2 = chi_square(&counts, weights);
                assert!(
                    x2 < critical(df),
                    "weights {weights:?}: counts {counts:?}, chi2 {x2:.2}"
                );
            }
        }
    }
}

#[test]
fn a_broken_weighting_would_fail_the_test() {
    // The statistic itself must be able to fail: uniform counts against 70/30 weights.
    assert!(chi_square(&[30_000, 30_000], &[70, 30]) > critical(1));
    assert!(chi_square(&[42_000, 18_000], &[70, 30]) < critical(1));
}

#[test]
fn same_seed_and_worker_give_the_same_sequence() {
    let p = program(&plan_with_weights(&[1, 1, 1, 1]));
    let seq = |seed: u64, worker: u64| {
        let mut w = worker_with(&p, worker, seed, molotov_dsl::Globals::empty());
        (0..64).map(|_| w.pick_scenario().0).collect::<Vec<_>>()
    };
    assert_eq!(seq(7, 3), seq(7, 3), "reproducible");
    assert_ne!(seq(7, 3), seq(7, 4), "workers draw independently");
    assert_ne!(seq(7, 3), seq(8, 3), "the seed matters");
}

#[test]
fn single_scenario_is_always_picked() {
    let p = program(&plan_with_weights(&[5]));
    let mut w = worker(&p, 0);
    assert!((0..1000).all(|_| w.pick_scenario().0 == 0));
}
