//! A small fast HTTP target server for molotov's tests, demo and benchmarks, with switchable misbehaviours.
