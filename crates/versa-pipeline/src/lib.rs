//! The model lifecycle as stages: ingest → prepare (split, fit transform) →
//! train variants → evaluate → deploy, plus the reference scenario that runs
//! all seven stages on versa's embedded sample data.
//!
//! This crate is the only one that sees every other library crate: it turns
//! tables into matrices, models into blobs, and results into catalog rows. It
//! knows nothing about the command line or HTTP: progress is reported through
//! [`Observer`] events and results are returned as serialisable reports.
//!
//! Invariant kept here: a model version row is written to the catalog only
//! after every blob it names (weights, transform, manifest, dataset) has been
//! stored.

pub mod bundle;
pub mod deploy;
mod error;
pub mod evaluate;
pub mod ingest;
pub mod observer;
pub mod prepare;
pub mod repro;
pub mod run;
pub mod scenario;
pub mod spec;
pub mod train;
pub mod workspace;

pub use error::PipelineError;
pub use observer::{Event, NoopObserver, Observer, Shape};
pub use workspace::Workspace;
