//! Stage 7, deployment: move an alias (e.g. `production`) to a version with
//! compare-and-swap, so two deployers racing cannot both think they won.

use serde::Serialize;
use versa_catalog::{AliasExpectation, CatalogError};
use versa_core::{Alias, ModelName, VersionSelector};

use crate::{PipelineError, Workspace};

/// What a deployment did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Model name.
    pub model: String,
    /// The alias moved.
    pub alias: String,
    /// The version it points to now.
    pub version: u32,
    /// The version it pointed to before, if any.
    pub previous: Option<u32>,
}

/// Points `alias` of `model` at `version`, expecting it still points where it
/// did when read (compare-and-swap).
pub async fn deploy(
    workspace: &Workspace,
    model: &ModelName,
    alias: &Alias,
    version: u32,
    actor: &str,
) -> Result<DeployReport, PipelineError> {
    let catalog = &workspace.catalog;
    let current = match catalog
        .resolve(model, &VersionSelector::Alias(alias.clone()))
        .await
    {
        Ok(v) => Some(v.version),
        Err(CatalogError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let expectation = match current {
        Some(v) => AliasExpectation::Version(v),
        None => AliasExpectation::Absent,
    };
    let change = catalog
        .set_alias(model, alias, version, expectation, actor)
        .await?;
    Ok(DeployReport {
        model: model.to_string(),
        alias: alias.to_string(),
        version: change.to,
        previous: change.from,
    })
}
