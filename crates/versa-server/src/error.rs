//! API errors: a status code and a message, always sent as
//! `{"error": "..."}` with `content-type: application/json`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use versa_catalog::CatalogError;
use versa_pipeline::PipelineError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or fails validation.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// Maps catalog errors: unknown things are 404, conflicts 409, the rest 500.
    pub fn from_catalog(error: CatalogError) -> ApiError {
        let status = match &error {
            CatalogError::NotFound { .. } => StatusCode::NOT_FOUND,
            CatalogError::AliasConflict { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %error, "catalog failure");
        }
        ApiError::new(status, error.to_string())
    }

    /// Maps errors from loading a model version.
    pub fn from_pipeline(error: PipelineError) -> ApiError {
        match error {
            PipelineError::Catalog(e) => ApiError::from_catalog(e),
            other => {
                tracing::error!(error = %other, "cannot load model version");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint at `{}`; see GET /v1/models and POST /v1/models/NAME@ALIAS/predict",
            uri.path()
        ),
    )
}
