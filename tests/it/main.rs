//! The integration tests, as one binary: one link instead of one per file, and every test of every
//! area runs in parallel. Each module is one area (its file says what it covers); `common` holds the
//! helpers (an in-process sandbox per test, the `World` of an apply, the CD harness).

mod common;

mod accounts;
mod apply;
mod architecture;
mod canonical;
mod cd;
mod client;
mod docs;
mod export;
mod hostile;
mod kinds;
mod manifest;
mod openapi_contract;
mod pipeline;
mod plan;
mod sandbox_api;
mod sandbox_cli;
