//! Writing to standard error without ever panicking: `crate::errln!` panics when stderr is
//! closed (`2>&-`) or full (`2>/dev/full`); a load tester's warnings must not end its run.

/// Like `crate::errln!`, but a failed write to stderr is ignored instead of panicking.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}

/// Like `eprint!`, but a failed write to stderr is ignored instead of panicking.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stderr().lock(), $($arg)*);
    }};
}
