//! `molc PLAN.mol`: compiles a plan and prints its diagnostics or a summary of the program
//! (a development aid; the real CLI is `molotov`). Exit status 2 on a plan error.

use molotov_dsl::{CompileOptions, compile};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: molc PLAN.mol");
        std::process::exit(64);
    };
    match compile(std::path::Path::new(&path), &CompileOptions::default()) {
        Err(diags) => {
            eprint!("{diags}");
            std::process::exit(2);
        }
        Ok(program) => {
            for s in program.scenarios() {
                println!(
                    "scenario {} weight {} delay {:?} ({})",
                    s.name, s.weight, s.delay, s.location
                );
            }
            for r in program.requests() {
                println!(
                    "request {:?} {} ({}) needs {:?}",
                    r.name, r.method, r.location, r.needs
                );
            }
            for c in program.checks() {
                println!(
                    "{} {} ({})",
                    if c.is_assert { "assert" } else { "check" },
                    c.text,
                    c.location
                );
            }
            for t in program.thresholds() {
                println!("threshold {} ({})", t.text, t.location);
            }
            print!("{}", program.warnings());
        }
    }
}
