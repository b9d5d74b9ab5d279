//! Test support shared by every crate of the workspace. Not published.
//!
//! [`tools`]: one policy for the external tools some test groups need (Node.js, Chromium, Redis).

pub mod tools;
