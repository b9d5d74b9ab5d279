//! Compile-fail tests for `#[procedure]` and `yield_!`: each `trybuild/*.rs` file makes one
//! mistake, and its `.stderr` holds the error the user sees, which must name the problem, say how
//! to fix it, and point at the user's own token.
//!
//! `TRYBUILD=overwrite cargo test -p orpc-macros --test compile_fail` regenerates the `.stderr` files; review
//! every changed message and span before committing them.

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("trybuild/*.rs");
}
