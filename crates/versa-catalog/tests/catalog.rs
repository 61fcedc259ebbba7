//! The catalog conformance suite: every test body runs against a real SQLite
//! file in a temporary directory (`sqlite::NAME`) and a fresh database on a
//! real, throwaway PostgreSQL server (`postgres::NAME`), and must behave the
//! same on both. Backend-specific checks follow the suite.

#[macro_use]
mod support;

use std::path::Path;
use std::sync::Arc;

use versa_catalog::{
    AliasExpectation, Catalog, CatalogError, MetricComparison, MetricPoint, NewDatasetVersion,
    NewModelVersion, NewRun, Registration, RunStatus,
};
use versa_core::{Alias, DatasetName, Digest, ModelName, RunId, VersionSelector};

use support::Store;

fn dataset(name: &str, content: &str) -> NewDatasetVersion {
    NewDatasetVersion {
        name: DatasetName::new(name).unwrap(),
        content_digest: Digest::of(content.as_bytes()),
        manifest_digest: Digest::of(format!("manifest of {content}").as_bytes()),
        n_rows: 100,
        n_columns: 4,
        source_path: format!("data/{name}.csv"),
        size_bytes: 2048,
        source_format: "csv".to_string(),
    }
}

fn model(name: &str) -> ModelName {
    ModelName::new(name).unwrap()
}

fn alias(name: &str) -> Alias {
    Alias::new(name).unwrap()
}

fn version_of(name: &str, seed: &str) -> NewModelVersion {
    NewModelVersion {
        name: model(name),
        run_id: None,
        manifest_digest: Digest::of(format!("manifest {seed}").as_bytes()),
        weights_digest: Digest::of(format!("weights {seed}").as_bytes()),
        transform_digest: None,
        dataset_digest: None,
        description: None,
        metrics: Vec::new(),
    }
}

async fn start_run(catalog: &Catalog, experiment: &str) -> RunId {
    let experiment = catalog
        .experiment_by_name_or_create(experiment)
        .await
        .unwrap();
    catalog
        .create_run(NewRun {
            experiment_id: experiment.experiment_id,
            run_name: "train".to_string(),
            user: "ada".to_string(),
            host: "lab-1".to_string(),
            versa_version: "0.1.0".to_string(),
            start_time: 1_700_000_000_000,
        })
        .await
        .unwrap()
        .run_id
}

fn point(key: &str, value: f64, timestamp: i64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.to_string(),
        value,
        timestamp,
        step,
    }
}

async fn dataset_registration_numbers_versions_and_deduplicates_content(store: Store) {
    let catalog = store.open().await;

    let (first, registration) = catalog
        .register_dataset(dataset("customers", "v1"))
        .await
        .unwrap();
    assert_eq!(registration, Registration::Created);
    assert_eq!(first.version, 1);
    assert_eq!(first.source_path, "data/customers.csv");
    assert_eq!(first.n_rows, 100);

    let (again, registration) = catalog
        .register_dataset(dataset("customers", "v1"))
        .await
        .unwrap();
    assert_eq!(registration, Registration::Existing);
    assert_eq!(again, first);

    let (second, _) = catalog
        .register_dataset(dataset("customers", "v2"))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    // Same content under another name is a separate dataset.
    let (other, registration) = catalog
        .register_dataset(dataset("orders", "v1"))
        .await
        .unwrap();
    assert_eq!((other.version, registration), (1, Registration::Created));

    let name = DatasetName::new("customers").unwrap();
    assert_eq!(catalog.dataset(&name, None).await.unwrap(), second);
    assert_eq!(catalog.dataset(&name, Some(1)).await.unwrap(), first);
    let listed: Vec<(String, u32)> = catalog
        .list_datasets()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name.to_string(), d.version))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("customers".to_string(), 1),
            ("customers".to_string(), 2),
            ("orders".to_string(), 1)
        ]
    );
    let by_digest = catalog
        .dataset_by_digest(&Digest::of(b"v2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest, second);
    assert!(
        catalog
            .dataset_by_digest(&Digest::of(b"unknown"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn dataset_not_found_says_what_exists(store: Store) {
    let catalog = store.open().await;
    catalog
        .register_dataset(dataset("customers", "a"))
        .await
        .unwrap();
    catalog
        .register_dataset(dataset("customers", "b"))
        .await
        .unwrap();

    let name = DatasetName::new("customers").unwrap();
    let err = catalog.dataset(&name, Some(7)).await.unwrap_err();
    assert!(matches!(err, CatalogError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("customers@7"), "{message}");
    assert!(message.contains("has versions 1, 2"), "{message}");

    let missing = DatasetName::new("custmers").unwrap();
    let message = catalog
        .dataset(&missing, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("no dataset named `custmers`"), "{message}");
    assert!(
        message.contains("registered datasets: customers"),
        "{message}"
    );
}

async fn transforms_register_idempotently_and_reject_bad_json(store: Store) {
    let catalog = store.open().await;
    let digest = Digest::of(b"transform");
    let data = Digest::of(b"data");
    catalog
        .register_transform(&digest, &data, r#"{"scale":"standard"}"#)
        .await
        .unwrap();
    catalog
        .register_transform(&digest, &data, r#"{"scale":"standard"}"#)
        .await
        .unwrap();
    let row = catalog.transform(&digest).await.unwrap();
    assert_eq!(row.dataset_digest, data);
    assert_eq!(row.spec_json, r#"{"scale":"standard"}"#);

    let err = catalog
        .register_transform(&Digest::of(b"other"), &data, "{not json")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Invalid {
                what: "transform spec",
                ..
            }
        ),
        "{err:?}"
    );
    let err = catalog.transform(&Digest::of(b"other")).await.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::NotFound {
                what: "transform",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn experiments_are_found_by_name_or_created_with_integer_ids(store: Store) {
    let catalog = store.open().await;
    let first = catalog.experiment_by_name_or_create("churn").await.unwrap();
    let second = catalog.experiment_by_name_or_create("fraud").await.unwrap();
    let again = catalog.experiment_by_name_or_create("churn").await.unwrap();
    assert_eq!(first.experiment_id, "1");
    assert_eq!(second.experiment_id, "2");
    assert_eq!(again, first);
    // Besides MLflow's Default experiment ("0"), which the schema creates.
    let experiments = catalog.list_experiments().await.unwrap();
    assert_eq!(experiments[0].experiment_id, "0");
    assert_eq!(experiments[1..], [first, second]);
    let err = catalog
        .experiment_by_name_or_create("  ")
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Invalid { .. }), "{err:?}");
}

async fn run_round_trip_with_params_metrics_and_tags(store: Store) {
    let catalog = store.open().await;
    let run_id = start_run(&catalog, "churn").await;
    assert_eq!(run_id.as_str().len(), 32);
    assert!(
        run_id
            .as_str()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    catalog
        .log_params(
            &run_id,
            &[
                ("lr".to_string(), "0.01".to_string()),
                ("hidden".to_string(), "32,16".to_string()),
            ],
        )
        .await
        .unwrap();
    // Logged out of order: history must come back sorted by step, latest by step.
    catalog
        .log_metrics(
            &run_id,
            &[
                point("loss", 0.5, 1_000, 2),
                point("loss", 0.9, 900, 1),
                point("loss", 0.7, 1_100, 1),
                point("accuracy", 0.8, 1_000, 2),
            ],
        )
        .await
        .unwrap();
    catalog.set_run_tag(&run_id, "seed", "42").await.unwrap();
    catalog.set_run_tag(&run_id, "seed", "43").await.unwrap();
    catalog
        .finish_run(&run_id, RunStatus::Finished, 1_700_000_100_000)
        .await
        .unwrap();

    let detail = catalog.run(&run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Finished);
    assert_eq!(detail.run.end_time, Some(1_700_000_100_000));
    assert_eq!(detail.run.user_id, "ada");
    assert!(detail.run.artifact_uri.contains(run_id.as_str()));
    assert_eq!(detail.params["lr"], "0.01");
    assert_eq!(detail.params.len(), 2);
    assert_eq!(detail.latest_metrics["loss"], 0.5);
    assert_eq!(detail.latest_metrics["accuracy"], 0.8);
    assert_eq!(detail.tags["seed"], "43");

    let history = catalog.metric_history(&run_id, "loss").await.unwrap();
    let steps: Vec<(i64, i64, f64)> = history
        .iter()
        .map(|p| (p.step, p.timestamp, p.value))
        .collect();
    assert_eq!(steps, vec![(1, 900, 0.9), (1, 1_100, 0.7), (2, 1_000, 0.5)]);
    assert_eq!(
        catalog.metric_keys(&run_id).await.unwrap(),
        vec!["accuracy".to_string(), "loss".to_string()]
    );

    let other = start_run(&catalog, "fraud").await;
    assert_ne!(other, run_id);
    assert_eq!(catalog.list_runs(None).await.unwrap().len(), 2);
    let churn_runs = catalog.list_runs(Some("1")).await.unwrap();
    assert_eq!(churn_runs.len(), 1);
    assert_eq!(churn_runs[0].run_id, run_id);
}

async fn unknown_run_is_not_found_everywhere(store: Store) {
    let catalog = store.open().await;
    let ghost = RunId::new("0123456789abcdef0123456789abcdef").unwrap();
    let err = catalog.run(&ghost).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("run `0123456789abcdef0123456789abcdef` not found"),
        "{err}"
    );
    assert!(matches!(
        catalog
            .log_metrics(&ghost, &[point("loss", 1.0, 1, 1)])
            .await,
        Err(CatalogError::NotFound { what: "run", .. })
    ));
    assert!(matches!(
        catalog.finish_run(&ghost, RunStatus::Failed, 1).await,
        Err(CatalogError::NotFound { what: "run", .. })
    ));
    let err = catalog
        .create_run(NewRun {
            experiment_id: "99".to_string(),
            run_name: "x".to_string(),
            user: "u".to_string(),
            host: "h".to_string(),
            versa_version: "0".to_string(),
            start_time: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::NotFound {
                what: "experiment",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn params_are_immutable_and_a_conflicting_batch_writes_nothing(store: Store) {
    let catalog = store.open().await;
    let run_id = start_run(&catalog, "churn").await;
    catalog
        .log_params(&run_id, &[("lr".to_string(), "0.01".to_string())])
        .await
        .unwrap();
    // Same value again is fine.
    catalog
        .log_params(&run_id, &[("lr".to_string(), "0.01".to_string())])
        .await
        .unwrap();

    let err = catalog
        .log_params(
            &run_id,
            &[
                ("epochs".to_string(), "10".to_string()),
                ("lr".to_string(), "0.1".to_string()),
            ],
        )
        .await
        .unwrap_err();
    match &err {
        CatalogError::ParamConflict {
            key,
            existing,
            attempted,
            ..
        } => {
            assert_eq!(
                (key.as_str(), existing.as_str(), attempted.as_str()),
                ("lr", "0.01", "0.1")
            );
        }
        other => panic!("expected ParamConflict, got {other:?}"),
    }
    assert!(err.to_string().contains("immutable"), "{err}");
    let params = catalog.run(&run_id).await.unwrap().params;
    assert_eq!(
        params.len(),
        1,
        "epochs from the failed batch was written: {params:?}"
    );
}

async fn a_batch_larger_than_one_statement_is_logged_whole(store: Store) {
    let catalog = store.open().await;
    let run_id = start_run(&catalog, "churn").await;
    // 2,501 points over two keys: more than one multi-row statement, the
    // newest point of each key in different statements, and one exact
    // duplicate (kept once).
    let mut batch: Vec<MetricPoint> = (0..2500)
        .map(|index| {
            point(
                ["loss", "accuracy"][index % 2],
                index as f64,
                7,
                index as i64 / 2,
            )
        })
        .collect();
    batch.push(point("loss", 0.0, 7, 0));
    catalog.log_metrics(&run_id, &batch).await.unwrap();
    let history = catalog.metric_history(&run_id, "loss").await.unwrap();
    assert_eq!(history.len(), 1250);
    assert_eq!(history.last().unwrap().value, 2498.0);
    let latest = catalog.run(&run_id).await.unwrap().latest_metrics;
    assert_eq!(latest["loss"], 2498.0);
    assert_eq!(latest["accuracy"], 2499.0);
    // An older point logged later does not replace the latest value.
    catalog
        .log_metrics(&run_id, &[point("loss", -1.0, 8, 3)])
        .await
        .unwrap();
    assert_eq!(
        catalog.run(&run_id).await.unwrap().latest_metrics["loss"],
        2498.0
    );
}

async fn nan_and_infinite_metrics_survive_storage(store: Store) {
    let catalog = store.open().await;
    let run_id = start_run(&catalog, "churn").await;
    catalog
        .log_metrics(
            &run_id,
            &[
                point("loss", f64::NAN, 1, 1),
                point("loss", f64::INFINITY, 2, 2),
                point("loss", f64::NEG_INFINITY, 3, 3),
                point("grad", f64::NAN, 1, 1),
            ],
        )
        .await
        .unwrap();
    let history = catalog.metric_history(&run_id, "loss").await.unwrap();
    assert!(history[0].value.is_nan());
    assert_eq!(history[1].value, f64::INFINITY);
    assert_eq!(history[2].value, f64::NEG_INFINITY);
    let latest = catalog.run(&run_id).await.unwrap().latest_metrics;
    assert_eq!(latest["loss"], f64::NEG_INFINITY);
    assert!(latest["grad"].is_nan());

    let mut new = version_of("churn", "1");
    new.metrics = vec![
        ("rmse".to_string(), f64::NAN),
        ("mae".to_string(), f64::INFINITY),
    ];
    catalog.create_model_version(new).await.unwrap();
    let stored = catalog.model_version(&model("churn"), 1).await.unwrap();
    assert!(stored.metrics["rmse"].is_nan());
    assert_eq!(stored.metrics["mae"], f64::INFINITY);
}

async fn model_versions_round_trip_with_lineage(store: Store) {
    let catalog = store.open().await;
    let (data, _) = catalog
        .register_dataset(dataset("customers", "rows"))
        .await
        .unwrap();
    let transform = Digest::of(b"fitted scaler");
    catalog
        .register_transform(&transform, &data.content_digest, "{}")
        .await
        .unwrap();
    let run_id = start_run(&catalog, "churn").await;
    catalog
        .log_params(&run_id, &[("lr".to_string(), "0.01".to_string())])
        .await
        .unwrap();

    let mut new = version_of("churn", "a");
    new.run_id = Some(run_id.clone());
    new.transform_digest = Some(transform);
    new.dataset_digest = Some(data.content_digest);
    new.description = Some("first model".to_string());
    new.metrics = vec![("test_rmse".to_string(), 0.25)];
    let created = catalog.create_model_version(new.clone()).await.unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.source, format!("blob:{}", new.manifest_digest));

    let second = catalog
        .create_model_version(version_of("churn", "b"))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    catalog
        .set_model_version_tag(&model("churn"), 1, "reviewed", "yes")
        .await
        .unwrap();
    catalog
        .set_alias(
            &model("churn"),
            &alias("production"),
            1,
            AliasExpectation::Absent,
            "ada",
        )
        .await
        .unwrap();

    let stored = catalog.model_version(&model("churn"), 1).await.unwrap();
    assert_eq!(stored.description.as_deref(), Some("first model"));
    assert_eq!(stored.metrics["test_rmse"], 0.25);
    assert_eq!(stored.tags["reviewed"], "yes");
    assert_eq!(stored.aliases, vec![alias("production")]);
    assert_eq!(stored.run_id.as_ref(), Some(&run_id));
    assert_eq!(stored.weights_digest, new.weights_digest);

    let by_alias = catalog
        .resolve(
            &model("churn"),
            &VersionSelector::Alias(alias("production")),
        )
        .await
        .unwrap();
    assert_eq!(by_alias, stored);
    let by_number = catalog
        .resolve(&model("churn"), &VersionSelector::Version(2))
        .await
        .unwrap();
    assert_eq!(by_number.version, 2);
    assert!(by_number.aliases.is_empty());

    let versions = catalog.list_versions(&model("churn")).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(versions[0], stored);

    catalog
        .create_model_version(version_of("ads", "x"))
        .await
        .unwrap();
    let models = catalog.list_models().await.unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0].name, model("ads"));
    assert_eq!(models[1].name, model("churn"));
    assert_eq!(models[1].n_versions, 2);
    assert_eq!(models[1].latest_version, Some(2));
    assert_eq!(models[1].aliases.get("production"), Some(&1));
    assert!(models[0].aliases.is_empty());

    let lineage = catalog.lineage(&model("churn"), 1).await.unwrap();
    assert_eq!(lineage.version, stored);
    assert_eq!(lineage.run.unwrap().params["lr"], "0.01");
    assert_eq!(lineage.transform.unwrap().digest, transform);
    assert_eq!(lineage.dataset.unwrap(), data);
    let bare = catalog.lineage(&model("churn"), 2).await.unwrap();
    assert!(bare.run.is_none() && bare.transform.is_none() && bare.dataset.is_none());

    assert_eq!(
        catalog.aliases().await.unwrap(),
        vec![(model("churn"), alias("production"), 1)]
    );
}

async fn failed_registration_leaves_nothing_behind(store: Store) {
    let catalog = store.open().await;
    let mut new = version_of("churn", "a");
    new.run_id = Some(RunId::new("ffffffffffffffffffffffffffffffff").unwrap());
    new.metrics = vec![("rmse".to_string(), 1.0)];
    let err = catalog.create_model_version(new).await.unwrap_err();
    assert!(
        matches!(err, CatalogError::NotFound { what: "run", .. }),
        "{err:?}"
    );
    assert!(catalog.list_models().await.unwrap().is_empty());

    let mut duplicate = version_of("churn", "a");
    duplicate.metrics = vec![("rmse".to_string(), 1.0), ("rmse".to_string(), 2.0)];
    let err = catalog.create_model_version(duplicate).await.unwrap_err();
    assert!(matches!(err, CatalogError::Invalid { .. }), "{err:?}");

    // The next good registration still gets version 1: no number was burnt.
    let created = catalog
        .create_model_version(version_of("churn", "b"))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
}

async fn model_not_found_messages_list_what_exists(store: Store) {
    let catalog = store.open().await;
    catalog
        .create_model_version(version_of("churn", "a"))
        .await
        .unwrap();
    catalog
        .create_model_version(version_of("churn", "b"))
        .await
        .unwrap();

    let message = catalog
        .model_version(&model("churn"), 5)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("model version `churn/5` not found"),
        "{message}"
    );
    assert!(message.contains("has versions 1, 2"), "{message}");

    let message = catalog
        .model_version(&model("chrun"), 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("no model named `chrun`"), "{message}");
    assert!(message.contains("registered models: churn"), "{message}");

    let message = catalog
        .resolve(
            &model("churn"),
            &VersionSelector::Alias(alias("production")),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`churn@production` not found"),
        "{message}"
    );
    assert!(message.contains("no aliases yet"), "{message}");

    catalog
        .set_alias(
            &model("churn"),
            &alias("staging"),
            2,
            AliasExpectation::Any,
            "ci",
        )
        .await
        .unwrap();
    let message = catalog
        .resolve(
            &model("churn"),
            &VersionSelector::Alias(alias("production")),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("staging -> 2"), "{message}");

    assert!(matches!(
        catalog.list_versions(&model("nope")).await,
        Err(CatalogError::NotFound { what: "model", .. })
    ));
}

async fn alias_moves_are_checked_and_recorded(store: Store) {
    let catalog = store.open().await;
    for seed in ["a", "b", "c"] {
        catalog
            .create_model_version(version_of("churn", seed))
            .await
            .unwrap();
    }
    let churn = model("churn");
    let production = alias("production");

    let change = catalog
        .set_alias(&churn, &production, 1, AliasExpectation::Absent, "ada")
        .await
        .unwrap();
    assert_eq!((change.from, change.to), (None, 1));

    let err = catalog
        .set_alias(&churn, &production, 2, AliasExpectation::Absent, "bob")
        .await
        .unwrap_err();
    match &err {
        CatalogError::AliasConflict {
            actual, expected, ..
        } => {
            assert_eq!(*actual, Some(1));
            assert_eq!(*expected, AliasExpectation::Absent);
        }
        other => panic!("expected AliasConflict, got {other:?}"),
    }
    assert!(err.to_string().contains("points at version 1"), "{err}");

    let err = catalog
        .set_alias(&churn, &production, 2, AliasExpectation::Version(3), "bob")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::AliasConflict {
                actual: Some(1),
                ..
            }
        ),
        "{err:?}"
    );

    let change = catalog
        .set_alias(&churn, &production, 2, AliasExpectation::Version(1), "bob")
        .await
        .unwrap();
    assert_eq!((change.from, change.to), (Some(1), 2));
    let change = catalog
        .set_alias(&churn, &production, 3, AliasExpectation::Any, "cy")
        .await
        .unwrap();
    assert_eq!((change.from, change.to), (Some(2), 3));
    // Re-pointing at the current version is a no-op, not an event.
    let change = catalog
        .set_alias(&churn, &production, 3, AliasExpectation::Version(3), "cy")
        .await
        .unwrap();
    assert_eq!((change.from, change.to), (Some(3), 3));

    let err = catalog
        .set_alias(&churn, &production, 9, AliasExpectation::Any, "cy")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::NotFound {
                what: "model version",
                ..
            }
        ),
        "{err:?}"
    );

    catalog
        .delete_alias(&churn, &production, "dee")
        .await
        .unwrap();
    assert!(matches!(
        catalog.delete_alias(&churn, &production, "dee").await,
        Err(CatalogError::NotFound { what: "alias", .. })
    ));

    let history: Vec<(Option<u32>, Option<u32>, String)> = catalog
        .alias_history(&churn, &production)
        .await
        .unwrap()
        .into_iter()
        .map(|event| (event.from_version, event.to_version, event.actor))
        .collect();
    assert_eq!(
        history,
        vec![
            (None, Some(1), "ada".to_string()),
            (Some(1), Some(2), "bob".to_string()),
            (Some(2), Some(3), "cy".to_string()),
            (Some(3), None, "dee".to_string()),
        ]
    );
    assert!(catalog.aliases().await.unwrap().is_empty());
}

async fn concurrent_registrations_from_separate_catalogs_get_versions_1_to_20(store: Store) {
    // No catalog is opened first: the openers also race to create and migrate it.
    let location = Arc::new(store.location());
    let mut tasks = Vec::new();
    for task in 0..20 {
        let location = Arc::clone(&location);
        tasks.push(tokio::spawn(async move {
            let catalog = Catalog::open(&location).await?;
            let created = catalog
                .create_model_version(version_of("churn", &format!("task {task}")))
                .await?;
            catalog.close().await;
            Ok::<u32, CatalogError>(created.version)
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<u32>>());

    let catalog = store.open().await;
    let stored = catalog.list_versions(&model("churn")).await.unwrap();
    assert_eq!(stored.len(), 20);
    let mut weights: Vec<Digest> = stored.iter().map(|v| v.weights_digest).collect();
    weights.sort();
    weights.dedup();
    assert_eq!(weights.len(), 20, "two versions share one registration");
}

async fn concurrent_dataset_versions_and_experiments_are_allocated_once(store: Store) {
    store.open().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for task in 0..10 {
        let catalog = store.open().await;
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let experiment = catalog.experiment_by_name_or_create("shared").await?;
            let (dataset, registration) = catalog
                .register_dataset(dataset("customers", &format!("content {task}")))
                .await?;
            catalog.close().await;
            Ok::<_, CatalogError>((experiment.experiment_id, dataset.version, registration))
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        let (experiment_id, version, registration) = task.await.unwrap().unwrap();
        assert_eq!(experiment_id, "1");
        assert_eq!(registration, Registration::Created);
        versions.push(version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<u32>>());
}

async fn concurrent_alias_moves_with_the_same_expectation_have_one_winner(store: Store) {
    let setup = store.open().await;
    for seed in ["a", "b", "c"] {
        setup
            .create_model_version(version_of("churn", seed))
            .await
            .unwrap();
    }
    // Several rounds, each on a fresh alias, so the race is exercised more than once.
    for round in 0..8 {
        let name = alias(&format!("production-{round}"));
        setup
            .set_alias(&model("churn"), &name, 1, AliasExpectation::Absent, "setup")
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for (target, actor) in [(2u32, "alice"), (3u32, "bob")] {
            let catalog = store.open().await;
            let barrier = Arc::clone(&barrier);
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                catalog
                    .set_alias(
                        &model("churn"),
                        &name,
                        target,
                        AliasExpectation::Version(1),
                        actor,
                    )
                    .await
                    .map(|change| change.to)
            }));
        }
        let mut winners = Vec::new();
        let mut conflicts = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(to) => winners.push(to),
                Err(CatalogError::AliasConflict { actual, .. }) => conflicts.push(actual),
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(conflicts, vec![Some(winners[0])], "round {round}");
        let history = setup.alias_history(&model("churn"), &name).await.unwrap();
        assert_eq!(history.len(), 2, "round {round}: {history:?}");
        assert_eq!(history[1].from_version, Some(1));
        assert_eq!(history[1].to_version, Some(winners[0]));
    }
}

async fn reopening_keeps_data_and_does_not_reapply_migrations(store: Store) {
    {
        let catalog = store.open().await;
        catalog
            .register_dataset(dataset("customers", "a"))
            .await
            .unwrap();
        catalog.close().await;
    }
    let catalog = store.open().await;
    let again = store.open().await;
    let listed = again.list_datasets().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(catalog.list_datasets().await.unwrap(), listed);
}

async fn open_picks_the_backend_from_the_location(store: Store) {
    let catalog = store.open().await;
    let expected = match store {
        Store::Sqlite { .. } => "sqlite",
        Store::Postgres { .. } => "postgres",
    };
    assert_eq!(catalog.backend_name(), expected);
}

async fn runs_are_searched_by_their_latest_metric(store: Store) {
    let catalog = store.open().await;
    let mut runs = Vec::new();
    // Latest accuracy per run: 0.5, 0.7, 0.9, NaN; the earlier steps must not count.
    for (index, latest) in [0.5, 0.7, 0.9, f64::NAN].into_iter().enumerate() {
        let run_id = start_run(&catalog, "churn").await;
        catalog
            .log_metrics(
                &run_id,
                &[
                    point("accuracy", 0.99, 1, 1),
                    point("accuracy", latest, 2, 2),
                    point("loss", 0.1, 2, 2),
                ],
            )
            .await
            .unwrap();
        runs.push((index, run_id));
    }
    let other_experiment = start_run(&catalog, "fraud").await;
    catalog
        .log_metrics(&other_experiment, &[point("accuracy", 0.95, 1, 1)])
        .await
        .unwrap();
    let search = |comparison: &str, value: f64| {
        let catalog = catalog.clone();
        let comparison: MetricComparison = comparison.parse().unwrap();
        async move {
            let mut found: Vec<String> = catalog
                .search_runs_by_metric("1", "accuracy", comparison, value)
                .await
                .unwrap()
                .into_iter()
                .map(|run| run.run_id.to_string())
                .collect();
            found.sort();
            found
        }
    };
    let ids = |indices: &[usize]| {
        let mut ids: Vec<String> = indices.iter().map(|i| runs[*i].1.to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(search(">=", 0.7).await, ids(&[1, 2]));
    assert_eq!(search(">", 0.7).await, ids(&[2]));
    assert_eq!(search("<", 0.7).await, ids(&[0]));
    assert_eq!(search("<=", 0.7).await, ids(&[0, 1]));
    assert_eq!(search("=", 0.9).await, ids(&[2]));
    assert_eq!(search("!=", 0.9).await, ids(&[0, 1]));
    assert_eq!(search(">", 0.99).await, ids(&[]));
    assert!(
        catalog
            .search_runs_by_metric("1", "recall", MetricComparison::Greater, 0.0)
            .await
            .unwrap()
            .is_empty()
    );
    let err = catalog
        .search_runs_by_metric("1", "accuracy", MetricComparison::Greater, f64::NAN)
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Invalid { .. }), "{err:?}");
    let err = "=>".parse::<MetricComparison>().unwrap_err();
    assert!(
        err.to_string().contains("one of <, <=, >, >=, =, !="),
        "{err}"
    );
}

async fn lineage_edges_are_written_with_the_version(store: Store) {
    let catalog = store.open().await;
    let run_id = start_run(&catalog, "churn").await;
    let mut new = version_of("churn", "a");
    new.run_id = Some(run_id.clone());
    new.transform_digest = Some(Digest::of(b"transform"));
    new.dataset_digest = Some(Digest::of(b"data"));
    catalog.create_model_version(new).await.unwrap();
    catalog
        .create_model_version(version_of("churn", "b"))
        .await
        .unwrap();
    let edges: Vec<(String, String, String)> = catalog
        .lineage_edges(&model("churn"), 1)
        .await
        .unwrap()
        .into_iter()
        .map(|edge| (edge.to_kind, edge.to_id, edge.relation))
        .collect();
    assert_eq!(
        edges,
        vec![
            (
                "dataset".to_string(),
                Digest::of(b"data").to_string(),
                "trained_on".to_string()
            ),
            (
                "run".to_string(),
                run_id.to_string(),
                "produced_by".to_string()
            ),
            (
                "transform".to_string(),
                Digest::of(b"transform").to_string(),
                "uses_transform".to_string()
            ),
        ]
    );
    assert!(
        catalog
            .lineage_edges(&model("churn"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn alias_routes_are_set_validated_and_cleared(store: Store) {
    let catalog = store.open().await;
    for seed in ["a", "b", "c"] {
        catalog
            .create_model_version(version_of("churn", seed))
            .await
            .unwrap();
    }
    let churn = model("churn");
    let production = alias("production");
    // A route needs the alias to exist first.
    let err = catalog
        .set_alias_route(&churn, &production, Some((2, 10)), None, "ada")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CatalogError::NotFound { what: "alias", .. }),
        "{err}"
    );
    catalog
        .set_alias(&churn, &production, 1, AliasExpectation::Absent, "ada")
        .await
        .unwrap();
    catalog
        .set_alias_route(&churn, &production, Some((2, 30)), Some(3), "ada")
        .await
        .unwrap();
    let routes = catalog.alias_routes().await.unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        (routes[0].canary, routes[0].shadow, routes[0].actor.as_str()),
        (Some((2, 30)), Some(3), "ada")
    );
    // Replacing keeps one row; unknown versions and percents over 100 are refused.
    catalog
        .set_alias_route(&churn, &production, None, Some(2), "bob")
        .await
        .unwrap();
    let routes = catalog.alias_routes().await.unwrap();
    assert_eq!(
        (routes.len(), routes[0].canary, routes[0].shadow),
        (1, None, Some(2))
    );
    let err = catalog
        .set_alias_route(&churn, &production, Some((9, 5)), None, "bob")
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::NotFound { .. }), "{err}");
    let err = catalog
        .set_alias_route(&churn, &production, Some((2, 101)), None, "bob")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0 to 100"), "{err}");
    // Clearing deletes the route.
    catalog
        .set_alias_route(&churn, &production, None, None, "bob")
        .await
        .unwrap();
    assert!(catalog.alias_routes().await.unwrap().is_empty());
}

conformance!(
    dataset_registration_numbers_versions_and_deduplicates_content,
    dataset_not_found_says_what_exists,
    transforms_register_idempotently_and_reject_bad_json,
    experiments_are_found_by_name_or_created_with_integer_ids,
    run_round_trip_with_params_metrics_and_tags,
    unknown_run_is_not_found_everywhere,
    params_are_immutable_and_a_conflicting_batch_writes_nothing,
    nan_and_infinite_metrics_survive_storage,
    a_batch_larger_than_one_statement_is_logged_whole,
    model_versions_round_trip_with_lineage,
    failed_registration_leaves_nothing_behind,
    model_not_found_messages_list_what_exists,
    alias_moves_are_checked_and_recorded,
    concurrent_registrations_from_separate_catalogs_get_versions_1_to_20,
    concurrent_alias_moves_with_the_same_expectation_have_one_winner,
    concurrent_dataset_versions_and_experiments_are_allocated_once,
    reopening_keeps_data_and_does_not_reapply_migrations,
    open_picks_the_backend_from_the_location,
    runs_are_searched_by_their_latest_metric,
    lineage_edges_are_written_with_the_version,
    alias_routes_are_set_validated_and_cleared,
);

#[tokio::test]
async fn sqlite_catalogs_use_wal_journaling() {
    let store = Store::sqlite();
    let catalog = store.open().await;
    catalog
        .register_dataset(dataset("customers", "a"))
        .await
        .unwrap();
    // WAL journaling is a property of the file: its log exists beside it.
    let mut wal = std::ffi::OsString::from(store.location());
    wal.push("-wal");
    assert!(Path::new(&wal).exists(), "no WAL file beside the catalog");
}

#[tokio::test]
async fn sqlite_open_reports_an_unusable_location() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let err = Catalog::open_sqlite(&blocker.join("catalog.sqlite"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[tokio::test]
async fn postgres_open_reports_the_server_without_its_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let err = Catalog::open("postgres://ada:secret@127.0.0.1:1/versa")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("postgres://ada:***@127.0.0.1:1/versa"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    let err = Catalog::open("postgres://ada@127.0.0.1:notaport/versa")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Invalid {
                what: "PostgreSQL URL",
                ..
            }
        ),
        "{err:?}"
    );
}

/// Servers and pipelines call the catalog from spawned tasks, so every
/// operation's future must be `Send`. This fails to compile, not at run time.
#[allow(dead_code)]
fn every_operation_is_send(catalog: &Catalog, run_id: &RunId, name: &ModelName, tag: &Alias) {
    fn send<T: Send>(_: T) {}
    let digest = Digest::of(b"x");
    let dataset_name = DatasetName::new("d").unwrap();
    send(Catalog::open_sqlite(Path::new("x")));
    send(Catalog::open_postgres("postgres://localhost/x"));
    send(Catalog::open("x"));
    send(catalog.search_runs_by_metric("1", "k", MetricComparison::Less, 0.0));
    send(catalog.lineage_edges(name, 1));
    send(catalog.register_dataset(dataset("d", "x")));
    send(catalog.dataset(&dataset_name, None));
    send(catalog.list_datasets());
    send(catalog.dataset_by_digest(&digest));
    send(catalog.register_transform(&digest, &digest, "{}"));
    send(catalog.transform(&digest));
    send(catalog.experiment_by_name_or_create("e"));
    send(catalog.list_experiments());
    send(catalog.log_params(run_id, &[]));
    send(catalog.log_metrics(run_id, &[]));
    send(catalog.set_run_tag(run_id, "k", "v"));
    send(catalog.finish_run(run_id, RunStatus::Finished, 0));
    send(catalog.run(run_id));
    send(catalog.list_runs(None));
    send(catalog.metric_history(run_id, "k"));
    send(catalog.metric_keys(run_id));
    send(catalog.create_model_version(version_of("m", "x")));
    send(catalog.model_version(name, 1));
    send(catalog.resolve(name, &VersionSelector::Version(1)));
    send(catalog.list_models());
    send(catalog.list_versions(name));
    send(catalog.set_model_version_tag(name, 1, "k", "v"));
    send(catalog.set_alias(name, tag, 1, AliasExpectation::Any, "a"));
    send(catalog.delete_alias(name, tag, "a"));
    send(catalog.alias_history(name, tag));
    send(catalog.aliases());
    send(catalog.lineage(name, 1));
}
