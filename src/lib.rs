//! The workspace's root package: it carries the examples in `examples/` and the integration
//! tests in `tests/`. Depend on `orpc-runtime` to use the library.
