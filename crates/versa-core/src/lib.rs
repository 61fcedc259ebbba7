//! versa's shared vocabulary: the types every other crate speaks.
//!
//! This crate is pure: it does no IO, is not async, and knows nothing about
//! arrow, SQL, HTTP or the command line. It holds
//! - [`Digest`]: the blake3 content address of every immutable thing versa stores;
//! - ids and references ([`ModelName`], [`Alias`], [`ModelRef`], [`DatasetRef`], [`RunId`]);
//! - [`Rng`]: the one deterministic random generator, so a seed means the same thing everywhere;
//! - [`schema`]: column types and table schemas;
//! - [`manifest`]: the versioned on-disk formats that reference other blobs by digest.

pub mod digest;
pub mod ids;
pub mod manifest;
pub mod rng;
pub mod schema;

pub use digest::{Digest, DigestParseError, Hasher};
pub use ids::{
    Alias, DatasetName, DatasetRef, IdError, ModelName, ModelRef, RunId, VersionSelector,
};
pub use rng::Rng;
pub use schema::{ColumnSchema, ColumnType};
