//! Helpers for elfroot's own tests, shared by the unit tests in `src/` and
//! the integration tests in `tests/`; not part of the API (hidden from the
//! documentation, no stability promise).
//!
//! One place decides what a test that cannot run here does: it says why and
//! passes on a developer's machine, and fails under CI, where every tool the
//! tests need is installed and a skip would hide a lost check (as cargo's own
//! test macros do).

/// True when the `CI` environment variable is set and not empty (the
/// convention of GitHub Actions, GitLab CI and most others; `CI=` does not count).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Says why a test cannot run here: prints `SKIPPED: why` to stderr, or,
/// when [`in_ci`], panics with `cannot run under CI: why`. The caller returns
/// right after it.
pub fn skip(why: &str) {
    if in_ci() {
        panic!("cannot run under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
}
