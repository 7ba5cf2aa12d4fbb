//! The `molotov` binary: parses flags and hands the run to molotov-core.

fn main() {
    println!("molotov {}", env!("CARGO_PKG_VERSION"));
}
