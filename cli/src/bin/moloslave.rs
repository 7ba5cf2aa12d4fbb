//! The `moloslave` binary: runs a test described by a repository's `molotov.json`.

fn main() {
    println!("moloslave {}", env!("CARGO_PKG_VERSION"));
}
