//! Conformance of the catalog's MLflow registry additions on SQLite and
//! PostgreSQL: registered models as records, MLflow-format versions, stages,
//! rename carrying everything along, deletes that leave tombstones so numbers
//! are never reused, logged models, and the artifact index.

#[macro_use]
mod support;

use versa_catalog::{
    AliasExpectation, CatalogError, LoggedModelStatus, ModelFormat, NewLoggedModel,
    NewMlflowVersion, OtherVersionsInStage, Stage,
};
use versa_core::{Alias, Digest, ModelName};

use support::Store;

fn name(text: &str) -> ModelName {
    ModelName::new(text).unwrap()
}

fn mlflow_version(model: &str, location: &str) -> NewMlflowVersion {
    NewMlflowVersion {
        name: name(model),
        source: location.to_string(),
        storage_location: location.to_string(),
        tree_digest: Digest::of(location.as_bytes()),
        run_id: None,
        model_id: None,
        run_link: None,
        description: None,
        tags: vec![("k".into(), "v".into())],
    }
}

async fn registry_lifecycle(store: Store) {
    let catalog = store.open().await;
    let sk = name("sk");
    catalog
        .create_registered_model(&sk, Some("first"), &[("team".into(), "ml".into())])
        .await
        .unwrap();
    let duplicate = catalog.create_registered_model(&sk, None, &[]).await;
    assert!(
        matches!(duplicate, Err(CatalogError::AlreadyExists { .. })),
        "{duplicate:?}"
    );

    let v1 = catalog
        .create_mlflow_version(mlflow_version("sk", "mlflow-artifacts:/0/a"))
        .await
        .unwrap();
    let v2 = catalog
        .create_mlflow_version(mlflow_version("sk", "mlflow-artifacts:/0/b"))
        .await
        .unwrap();
    assert_eq!((v1.version.version, v2.version.version), (1, 2));
    assert_eq!(v1.version.format, ModelFormat::Mlflow);
    assert_eq!(v1.version.tags.get("k").map(String::as_str), Some("v"));
    assert_eq!(
        v1.storage_location.as_deref(),
        Some("mlflow-artifacts:/0/a")
    );

    catalog
        .transition_stage(&sk, 1, Stage::Production, OtherVersionsInStage::Keep)
        .await
        .unwrap();
    let moved = catalog
        .transition_stage(&sk, 2, Stage::Production, OtherVersionsInStage::Archive)
        .await
        .unwrap();
    assert_eq!(moved.current_stage, Stage::Production);
    assert_eq!(
        catalog
            .registry_version(&sk, 1)
            .await
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    let model = catalog.registered_model(&sk).await.unwrap();
    let stages: Vec<(Stage, u32)> = model
        .latest_versions
        .iter()
        .map(|v| (v.current_stage, v.version.version))
        .collect();
    assert_eq!(stages, [(Stage::Production, 2), (Stage::Archived, 1)]);

    let production = Alias::new("production").unwrap();
    catalog
        .set_alias(&sk, &production, 2, AliasExpectation::Any, "test")
        .await
        .unwrap();
    catalog
        .set_registered_model_tag(&sk, "k", "v")
        .await
        .unwrap();
    catalog
        .delete_registered_model_tag(&sk, "team")
        .await
        .unwrap();
    assert!(matches!(
        catalog.delete_registered_model_tag(&sk, "team").await,
        Err(CatalogError::NotFound { .. })
    ));

    // Rename carries versions, tags, aliases and history along.
    let renamed = name("sk2");
    let model = catalog
        .rename_registered_model(&sk, &renamed)
        .await
        .unwrap();
    assert_eq!(model.aliases.get("production"), Some(&2));
    assert_eq!(model.tags.get("k").map(String::as_str), Some("v"));
    assert_eq!(catalog.registry_versions(&renamed).await.unwrap().len(), 2);
    assert_eq!(
        catalog
            .alias_history(&renamed, &production)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        catalog.registered_model(&sk).await,
        Err(CatalogError::NotFound { .. })
    ));

    // Deleting the aliased version removes the alias (recorded) and keeps a tombstone.
    catalog
        .delete_model_version(&renamed, 2, "mlflow-api")
        .await
        .unwrap();
    let history = catalog.alias_history(&renamed, &production).await.unwrap();
    assert_eq!(
        (
            history.last().unwrap().to_version,
            history.last().unwrap().actor.as_str()
        ),
        (None, "mlflow-api")
    );
    let v3 = catalog
        .create_mlflow_version(mlflow_version("sk2", "mlflow-artifacts:/0/c"))
        .await
        .unwrap();
    assert_eq!(v3.version.version, 3, "number 2 is never given again");

    catalog
        .delete_registered_model(&renamed, "mlflow-api")
        .await
        .unwrap();
    assert!(matches!(
        catalog.registered_model(&renamed).await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog
        .create_registered_model(&renamed, None, &[])
        .await
        .unwrap();
    let v4 = catalog
        .create_mlflow_version(mlflow_version("sk2", "mlflow-artifacts:/0/d"))
        .await
        .unwrap();
    assert_eq!(v4.version.version, 4, "tombstones outlive the model");
}

async fn logged_models_and_artifacts(store: Store) {
    let catalog = store.open().await;
    let model = catalog
        .create_logged_model(
            NewLoggedModel {
                experiment_id: "0".into(),
                name: "model".into(),
                params: vec![("C".into(), "1".into())],
                ..NewLoggedModel::default()
            },
            "mlflow-artifacts:/0",
        )
        .await
        .unwrap();
    assert_eq!(
        model.artifact_location,
        format!("mlflow-artifacts:/0/models/{}/artifacts", model.model_id)
    );
    assert_eq!(model.status, LoggedModelStatus::Pending);
    let ready = catalog
        .set_logged_model_status(&model.model_id, LoggedModelStatus::Ready, None)
        .await
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);
    catalog
        .log_logged_model_params(&model.model_id, &[("C".into(), "2".into())])
        .await
        .expect_err("params are immutable");
    catalog
        .set_logged_model_tags(&model.model_id, &[("t".into(), "1".into())])
        .await
        .unwrap();
    assert_eq!(catalog.logged_models(&["0".into()]).await.unwrap().len(), 1);
    assert!(
        catalog
            .logged_models(&["9".into()])
            .await
            .unwrap()
            .is_empty()
    );
    catalog.delete_logged_model(&model.model_id).await.unwrap();
    assert!(matches!(
        catalog.logged_model(&model.model_id).await,
        Err(CatalogError::NotFound { .. })
    ));

    let digest = Digest::of(b"bytes");
    catalog
        .put_artifact("0/r/artifacts/a_b/x", &digest, 5)
        .await
        .unwrap();
    catalog
        .put_artifact("0/r/artifacts/a%b", &digest, 5)
        .await
        .unwrap();
    catalog
        .put_artifact("0/r/artifactsX/y", &digest, 5)
        .await
        .unwrap();
    let under: Vec<String> = catalog
        .artifacts_under("0/r/artifacts")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        under,
        ["0/r/artifacts/a%b", "0/r/artifacts/a_b/x"],
        "a sibling with the same prefix is not under it"
    );
    assert!(
        catalog
            .put_artifact("0/r/artifacts/a_b/x/z", &digest, 1)
            .await
            .is_err(),
        "a file is not a directory"
    );
    assert!(
        catalog
            .put_artifact("0/r/artifacts/a_b", &digest, 1)
            .await
            .is_err(),
        "a directory is not a file"
    );
    assert!(catalog.put_artifact("0/../etc", &digest, 1).await.is_err());
    assert_eq!(catalog.delete_artifacts("0/r/artifacts").await.unwrap(), 2);
    assert_eq!(catalog.artifacts_under("").await.unwrap().len(), 1);
}

conformance!(registry_lifecycle, logged_models_and_artifacts);
