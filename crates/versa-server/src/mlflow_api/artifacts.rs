//! MLflow REST endpoints: artifacts (placeholder until implemented).

use std::sync::Arc;

use axum::Router;

use crate::ServerState;

pub(super) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
}
