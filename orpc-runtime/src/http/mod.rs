//! The actix-web transport.
