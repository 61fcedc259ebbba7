//! Conformance of the catalog's MLflow tracking model on both backends:
//! the Default experiment, experiment create/rename/delete/restore/tags and
//! search, runs started the MLflow way (names, tags, artifact URIs),
//! `log_batch` with MLflow's limits and all-or-nothing writes, NaN and
//! infinities, run search (filters, ordering, views, page tokens), metric
//! history pages and dataset inputs. Every body runs on a SQLite file and on
//! a fresh PostgreSQL database.

#[macro_use]
mod support;

use std::collections::BTreeMap;

use versa_catalog::{
    ArtifactRoot, Catalog, CatalogError, DatasetInput, ExperimentSearch, LifecycleStage,
    MetricPoint, NewTrackedRun, RunBatch, RunSearch, RunStatus, RunUpdate, ViewType,
};
use versa_core::RunId;

use support::Store;

fn point(key: &str, value: f64, timestamp: i64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.to_string(),
        value,
        timestamp,
        step,
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn new_run(experiment_id: &str, name: Option<&str>, start_time: i64) -> NewTrackedRun {
    NewTrackedRun {
        experiment_id: experiment_id.to_string(),
        user_id: "ada".to_string(),
        run_name: name.map(str::to_string),
        start_time,
        tags: Vec::new(),
        host: String::new(),
        versa_version: "test".to_string(),
    }
}

async fn start(catalog: &Catalog, experiment_id: &str, name: &str, start_time: i64) -> RunId {
    catalog
        .start_tracked_run(new_run(experiment_id, Some(name), start_time))
        .await
        .unwrap()
        .run
        .run_id
}

fn search(experiment_ids: &[&str], filter: &str, order_by: &[&str]) -> RunSearch {
    RunSearch {
        experiment_ids: experiment_ids.iter().map(|s| s.to_string()).collect(),
        filter: filter.to_string(),
        view: ViewType::ActiveOnly,
        max_results: 1000,
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        page_token: None,
    }
}

async fn names(catalog: &Catalog, search: &RunSearch) -> Vec<String> {
    catalog
        .search_runs(search)
        .await
        .unwrap_or_else(|e| panic!("search {:?}: {e}", search.filter))
        .runs
        .into_iter()
        .map(|run| run.run.run_name)
        .collect()
}

fn invalid_message<T: std::fmt::Debug>(result: versa_catalog::Result<T>) -> String {
    match result {
        Err(error @ CatalogError::Invalid { .. }) => error.to_string(),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

conformance!(
    the_default_experiment_exists_and_ids_continue_after_it,
    experiments_rename_delete_restore_and_tag,
    experiment_search_filters_orders_and_pages,
    runs_get_names_tags_and_proxied_artifact_uris,
    log_batch_checks_limits_and_writes_all_or_nothing,
    non_finite_metrics_round_trip,
    many_runs_read_together_keep_every_value_exact,
    filters_tested_in_sql_agree_with_mlflow_semantics,
    run_search_filters_orders_views_and_pages,
    runs_update_rename_delete_restore_and_untag,
    metric_history_pages_and_dataset_inputs,
);

async fn the_default_experiment_exists_and_ids_continue_after_it(store: Store) {
    let catalog = store.open().await;
    let default = catalog.experiment("0").await.unwrap();
    assert_eq!(default.experiment.name, "Default");
    assert_eq!(default.experiment.artifact_location, "mlflow-artifacts:/0");
    assert_eq!(default.experiment.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(
        catalog.experiment_by_name("Default").await.unwrap(),
        default
    );

    let created = catalog
        .create_experiment("churn", ArtifactRoot::Proxied, &pairs(&[("team", "ml")]))
        .await
        .unwrap();
    assert_eq!(created.experiment_id, "1");
    assert_eq!(created.artifact_location, "mlflow-artifacts:/1");
    let given = catalog
        .create_experiment("fraud", ArtifactRoot::Given("s3://bucket/x".into()), &[])
        .await
        .unwrap();
    assert_eq!(given.experiment_id, "2");
    assert_eq!(given.artifact_location, "s3://bucket/x");
    // versa's own pipeline allocates from the same sequence.
    let own = catalog
        .experiment_by_name_or_create("pipeline")
        .await
        .unwrap();
    assert_eq!(own.experiment_id, "3");
    assert_eq!(
        catalog.experiment("1").await.unwrap().tags,
        BTreeMap::from([("team".to_string(), "ml".to_string())])
    );

    let error = catalog
        .create_experiment("churn", ArtifactRoot::Proxied, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, CatalogError::AlreadyExists { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("experiment 1 has it"), "{error}");
    assert!(matches!(
        catalog.experiment("99").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog.experiment_by_name("nope").await,
        Err(CatalogError::NotFound { .. })
    ));
    invalid_message(
        catalog
            .create_experiment("  ", ArtifactRoot::Proxied, &[])
            .await,
    );

    // Reopening (migrations already applied) keeps exactly one Default.
    drop(catalog);
    let catalog = store.open().await;
    let defaults: Vec<_> = catalog
        .list_experiments()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.name == "Default")
        .collect();
    assert_eq!(defaults.len(), 1);
}

async fn experiments_rename_delete_restore_and_tag(store: Store) {
    let catalog = store.open().await;
    let a = catalog
        .create_experiment("a", ArtifactRoot::Proxied, &[])
        .await
        .unwrap();
    catalog
        .create_experiment("b", ArtifactRoot::Proxied, &[])
        .await
        .unwrap();
    catalog
        .rename_experiment(&a.experiment_id, "a2")
        .await
        .unwrap();
    assert_eq!(
        catalog
            .experiment_by_name("a2")
            .await
            .unwrap()
            .experiment
            .experiment_id,
        "1"
    );
    let error = catalog
        .rename_experiment(&a.experiment_id, "b")
        .await
        .unwrap_err();
    assert!(
        matches!(error, CatalogError::AlreadyExists { .. }),
        "{error:?}"
    );
    assert!(matches!(
        catalog.rename_experiment("42", "x").await,
        Err(CatalogError::NotFound { .. })
    ));

    catalog
        .set_experiment_tag("1", "owner", "ada")
        .await
        .unwrap();
    catalog
        .set_experiment_tag("1", "owner", "grace")
        .await
        .unwrap();
    assert_eq!(
        catalog.experiment("1").await.unwrap().tags["owner"],
        "grace"
    );
    catalog.delete_experiment_tag("1", "owner").await.unwrap();
    assert!(catalog.experiment("1").await.unwrap().tags.is_empty());
    assert!(matches!(
        catalog.delete_experiment_tag("1", "owner").await,
        Err(CatalogError::NotFound { .. })
    ));

    let run_id = start(&catalog, "1", "inside", 1).await;
    catalog
        .set_experiment_lifecycle("1", LifecycleStage::Deleted)
        .await
        .unwrap();
    // Its runs go with it, and come back with it, as in MLflow.
    assert_eq!(
        catalog
            .tracked_run(&run_id)
            .await
            .unwrap()
            .run
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert_eq!(
        catalog
            .experiment("1")
            .await
            .unwrap()
            .experiment
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    let message = invalid_message(catalog.rename_experiment("1", "a3").await);
    assert!(message.contains("deleted"), "{message}");
    invalid_message(catalog.start_tracked_run(new_run("1", Some("r"), 1)).await);
    // A deleted experiment still holds its name.
    let error = catalog
        .create_experiment("a2", ArtifactRoot::Proxied, &[])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("is deleted"), "{error}");
    catalog
        .set_experiment_lifecycle("1", LifecycleStage::Active)
        .await
        .unwrap();
    assert_eq!(
        catalog
            .tracked_run(&run_id)
            .await
            .unwrap()
            .run
            .lifecycle_stage,
        LifecycleStage::Active
    );
    catalog
        .start_tracked_run(new_run("1", Some("r"), 1))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .set_experiment_lifecycle("77", LifecycleStage::Deleted)
            .await,
        Err(CatalogError::NotFound { .. })
    ));
}

async fn experiment_search_filters_orders_and_pages(store: Store) {
    let catalog = store.open().await;
    for (name, team) in [("churn-a", "ml"), ("churn-b", "data"), ("fraud", "ml")] {
        catalog
            .create_experiment(name, ArtifactRoot::Proxied, &pairs(&[("team", team)]))
            .await
            .unwrap();
    }
    catalog
        .set_experiment_lifecycle("3", LifecycleStage::Deleted)
        .await
        .unwrap();
    let run = |filter: &str, view: ViewType, order_by: &[&str]| ExperimentSearch {
        filter: filter.to_string(),
        view,
        max_results: 100,
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        page_token: None,
    };
    let names = |page: versa_catalog::ExperimentPage| -> Vec<String> {
        page.experiments
            .into_iter()
            .map(|d| d.experiment.name)
            .collect()
    };
    let found = catalog
        .search_experiments(&run(
            "name LIKE 'churn%'",
            ViewType::ActiveOnly,
            &["name DESC"],
        ))
        .await
        .unwrap();
    assert_eq!(names(found), ["churn-b", "churn-a"]);
    let found = catalog
        .search_experiments(&run("tags.team = 'ml'", ViewType::All, &["name"]))
        .await
        .unwrap();
    assert_eq!(names(found), ["churn-a", "fraud"]);
    let found = catalog
        .search_experiments(&run("", ViewType::DeletedOnly, &[]))
        .await
        .unwrap();
    assert_eq!(names(found), ["fraud"]);
    let found = catalog
        .search_experiments(&run("name = 'Default'", ViewType::ActiveOnly, &[]))
        .await
        .unwrap();
    assert_eq!(names(found), ["Default"]);

    // Pages of two over the three active experiments, by id.
    let mut query = run("", ViewType::ActiveOnly, &["experiment_id ASC"]);
    query.max_results = 2;
    let first = catalog.search_experiments(&query).await.unwrap();
    let token = first.next_page_token.clone().expect("a second page");
    assert_eq!(names(first), ["Default", "churn-a"]);
    query.page_token = Some(token.clone());
    let second = catalog.search_experiments(&query).await.unwrap();
    assert_eq!(second.next_page_token, None);
    assert_eq!(names(second), ["churn-b"]);
    // The token belongs to that search only.
    let mut other = run(
        "name LIKE '%'",
        ViewType::ActiveOnly,
        &["experiment_id ASC"],
    );
    other.page_token = Some(token);
    let message = invalid_message(catalog.search_experiments(&other).await);
    assert!(message.contains("different search"), "{message}");

    let message = invalid_message(
        catalog
            .search_experiments(&run("name = ", ViewType::ActiveOnly, &[]))
            .await,
    );
    assert!(message.contains("at character 8"), "{message}");
    let mut too_many = run("", ViewType::All, &[]);
    too_many.max_results = 50_001;
    invalid_message(catalog.search_experiments(&too_many).await);
}

async fn runs_get_names_tags_and_proxied_artifact_uris(store: Store) {
    let catalog = store.open().await;
    let experiment = catalog
        .create_experiment("e", ArtifactRoot::Proxied, &[])
        .await
        .unwrap();

    let named = catalog
        .start_tracked_run(new_run(&experiment.experiment_id, Some("first"), 10))
        .await
        .unwrap();
    assert_eq!(named.run.run_name, "first");
    assert_eq!(named.tags["mlflow.runName"], "first");
    assert_eq!(named.run.status, RunStatus::Running);
    assert_eq!(named.run.start_time, 10);
    assert_eq!(
        named.run.artifact_uri,
        format!("mlflow-artifacts:/1/{}/artifacts", named.run.run_id)
    );

    let mut by_tag = new_run("1", None, 11);
    by_tag.tags = pairs(&[("mlflow.runName", "from-tag"), ("team", "ml")]);
    let by_tag = catalog.start_tracked_run(by_tag).await.unwrap();
    assert_eq!(by_tag.run.run_name, "from-tag");
    assert_eq!(by_tag.tags["team"], "ml");

    let generated = catalog
        .start_tracked_run(new_run("1", None, 12))
        .await
        .unwrap();
    assert!(!generated.run.run_name.is_empty());
    assert_eq!(generated.tags["mlflow.runName"], generated.run.run_name);

    let mut conflicting = new_run("1", Some("a"), 13);
    conflicting.tags = pairs(&[("mlflow.runName", "b")]);
    let message = invalid_message(catalog.start_tracked_run(conflicting).await);
    assert!(message.contains("mlflow.runName"), "{message}");

    assert!(matches!(
        catalog
            .start_tracked_run(new_run("404", Some("x"), 1))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    // Runs in the Default experiment, as the client makes them without set_experiment.
    let default_run = catalog
        .start_tracked_run(new_run("0", Some("d"), 1))
        .await
        .unwrap();
    assert!(
        default_run
            .run
            .artifact_uri
            .starts_with("mlflow-artifacts:/0/")
    );
    // MLflow runs are versa runs.
    assert_eq!(catalog.list_runs(None).await.unwrap().len(), 4);
    let missing = RunId::new("0123456789abcdef0123456789abcdef").unwrap();
    assert!(matches!(
        catalog.tracked_run(&missing).await,
        Err(CatalogError::NotFound { .. })
    ));
}

async fn log_batch_checks_limits_and_writes_all_or_nothing(store: Store) {
    let catalog = store.open().await;
    let run_id = start(&catalog, "0", "r", 1).await;
    let metrics = |n: usize| -> Vec<MetricPoint> {
        (0..n).map(|i| point(&format!("m{i}"), 1.0, 5, 0)).collect()
    };
    let params = |n: usize| -> Vec<(String, String)> {
        (0..n).map(|i| (format!("p{i}"), "v".to_string())).collect()
    };
    let over_limits = [
        RunBatch {
            metrics: metrics(1001),
            ..RunBatch::default()
        },
        RunBatch {
            params: params(101),
            ..RunBatch::default()
        },
        RunBatch {
            tags: params(101),
            ..RunBatch::default()
        },
        RunBatch {
            metrics: metrics(1000),
            params: params(1),
            ..RunBatch::default()
        },
    ];
    for batch in &over_limits {
        let message = invalid_message(catalog.log_batch(&run_id, batch).await);
        assert!(message.contains("MLflow's limits"), "{message}");
    }
    // Exactly at the limits is fine.
    catalog
        .log_batch(
            &run_id,
            &RunBatch {
                metrics: metrics(900),
                params: params(100),
                ..RunBatch::default()
            },
        )
        .await
        .unwrap();

    let long_value = RunBatch {
        params: vec![("long".to_string(), "x".repeat(6001))],
        ..RunBatch::default()
    };
    let message = invalid_message(catalog.log_batch(&run_id, &long_value).await);
    assert!(message.contains("6000"), "{message}");
    let fits = RunBatch {
        params: vec![("long".to_string(), "x".repeat(6000))],
        ..RunBatch::default()
    };
    catalog.log_batch(&run_id, &fits).await.unwrap();
    for bad_key in [
        "k".repeat(251),
        "a//b".to_string(),
        "../up".to_string(),
        "semi;colon".to_string(),
        String::new(),
    ] {
        let batch = RunBatch {
            tags: vec![(bad_key.clone(), "v".to_string())],
            ..RunBatch::default()
        };
        invalid_message(catalog.log_batch(&run_id, &batch).await);
    }
    let duplicate = RunBatch {
        params: pairs(&[("d", "1"), ("d", "1")]),
        ..RunBatch::default()
    };
    let message = invalid_message(catalog.log_batch(&run_id, &duplicate).await);
    assert!(message.contains("once per batch"), "{message}");

    // A changed param fails the whole batch: its metric and tag are not written.
    let changing = RunBatch {
        metrics: vec![point("late", 1.0, 5, 0)],
        params: pairs(&[("p0", "changed")]),
        tags: pairs(&[("t", "v")]),
    };
    let error = catalog.log_batch(&run_id, &changing).await.unwrap_err();
    assert!(
        matches!(error, CatalogError::ParamConflict { .. }),
        "{error:?}"
    );
    let run = catalog.tracked_run(&run_id).await.unwrap();
    assert!(!run.metrics.iter().any(|m| m.key == "late"));
    assert!(!run.tags.contains_key("t"));
    assert_eq!(run.params["p0"], "v");
    // The same value again is accepted.
    catalog
        .log_batch(
            &run_id,
            &RunBatch {
                params: pairs(&[("p0", "v")]),
                ..RunBatch::default()
            },
        )
        .await
        .unwrap();

    // A deleted run takes nothing.
    catalog
        .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
        .await
        .unwrap();
    let message = invalid_message(
        catalog
            .log_batch(
                &run_id,
                &RunBatch {
                    tags: pairs(&[("a", "b")]),
                    ..RunBatch::default()
                },
            )
            .await,
    );
    assert!(message.contains("deleted"), "{message}");
    let missing = RunId::new("ffffffffffffffffffffffffffffffff").unwrap();
    assert!(matches!(
        catalog.log_batch(&missing, &RunBatch::default()).await,
        Err(CatalogError::NotFound { .. })
    ));
}

async fn non_finite_metrics_round_trip(store: Store) {
    let catalog = store.open().await;
    let run_id = start(&catalog, "0", "r", 1).await;
    let batch = RunBatch {
        metrics: vec![
            point("nan", f64::NAN, 1, 0),
            point("inf", f64::INFINITY, 1, 0),
            point("ninf", f64::NEG_INFINITY, 1, 0),
            point("loss", 0.5, 1, 0),
            point("loss", f64::NAN, 2, 1),
        ],
        ..RunBatch::default()
    };
    catalog.log_batch(&run_id, &batch).await.unwrap();
    let run = catalog.tracked_run(&run_id).await.unwrap();
    let latest: BTreeMap<&str, f64> = run
        .metrics
        .iter()
        .map(|m| (m.key.as_str(), m.value))
        .collect();
    assert!(latest["nan"].is_nan());
    assert_eq!(latest["inf"], f64::INFINITY);
    assert_eq!(latest["ninf"], f64::NEG_INFINITY);
    assert!(
        latest["loss"].is_nan(),
        "the newest step wins even when NaN"
    );
    let history = catalog
        .metric_history_page(&run_id, "loss", None, None)
        .await
        .unwrap();
    assert_eq!(history.points.len(), 2);
    assert_eq!(history.points[0].value, 0.5);
    assert!(history.points[1].value.is_nan());
    // NaN never matches a comparison; infinity compares as a number.
    assert!(
        names(&catalog, &search(&["0"], "metrics.nan != 1", &[]))
            .await
            .is_empty()
    );
    assert_eq!(
        names(&catalog, &search(&["0"], "metrics.inf > 1e300", &[])).await,
        ["r"]
    );
}

/// Reading many runs at once aggregates their params, tags and metric keys
/// per run and pairs metric values with their keys by order; every value
/// must come back exactly, in the right run, whatever the runs hold.
async fn many_runs_read_together_keep_every_value_exact(store: Store) {
    let catalog = store.open().await;
    // Doubles whose shortest decimal form needs 17 digits, or that SQLite's
    // own float-to-text conversion gets wrong, plus the awkward ones (not
    // -0.0: SQLite stores an integral REAL as an integer, so it keeps 0.0).
    let awkward = [
        0.1 + 0.2,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        -3.388_246_693_551_885e111,
        -4.771_792_497_896_001_4e249,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0 / 3.0,
    ];
    let mut expected = Vec::new();
    for index in 0..7 {
        let run_id = start(&catalog, "0", &format!("r{index}"), index).await;
        // Run 3 logs nothing: its empty lists must not shift the others' values.
        let n_metrics = if index == 3 {
            0
        } else {
            5 + index as usize * 3
        };
        let metrics: Vec<MetricPoint> = (0..n_metrics)
            .map(|m| {
                let value = awkward[(m + index as usize) % awkward.len()]
                    * if m % 2 == 0 { 1.0 } else { -1.0 };
                point(&format!("m{m:02}"), value, 1_000 + m as i64, m as i64 - 2)
            })
            .collect();
        let params = if index == 3 {
            Vec::new()
        } else {
            pairs(&[
                ("quote", "say \"hi\""),
                ("unicode", "naïve ✓"),
                ("backslash", "C:\\data\\x"),
                ("empty", ""),
                ("n", &index.to_string()),
            ])
        };
        let tags = if index % 2 == 0 {
            pairs(&[("team", "ml"), ("json", "{\"a\": [1, 2]}")])
        } else {
            Vec::new()
        };
        let batch = RunBatch {
            metrics: metrics.clone(),
            params: params.clone(),
            tags: tags.clone(),
        };
        catalog.log_batch(&run_id, &batch).await.unwrap();
        expected.push((run_id, metrics, params, tags));
    }
    let ids: Vec<RunId> = expected.iter().map(|(id, ..)| id.clone()).collect();
    let runs = catalog.tracked_runs(&ids).await.unwrap();
    assert_eq!(runs.len(), expected.len());
    for (run, (run_id, metrics, params, tags)) in runs.iter().zip(&expected) {
        assert_eq!(&run.run.run_id, run_id);
        let got: BTreeMap<&str, (u64, i64, i64)> = run
            .metrics
            .iter()
            .map(|m| (m.key.as_str(), (m.value.to_bits(), m.timestamp, m.step)))
            .collect();
        let want: BTreeMap<&str, (u64, i64, i64)> = metrics
            .iter()
            .map(|m| {
                // NaN is stored as a flag; its payload is not kept.
                let bits = if m.value.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    m.value.to_bits()
                };
                (m.key.as_str(), (bits, m.timestamp, m.step))
            })
            .collect();
        let got: BTreeMap<&str, (u64, i64, i64)> = got
            .into_iter()
            .map(|(key, (bits, t, s))| {
                let bits = if f64::from_bits(bits).is_nan() {
                    f64::NAN.to_bits()
                } else {
                    bits
                };
                (key, (bits, t, s))
            })
            .collect();
        assert_eq!(got, want, "metrics of {}", run.run.run_name);
        let want_params: BTreeMap<String, String> = params.iter().cloned().collect();
        assert_eq!(run.params, want_params, "params of {}", run.run.run_name);
        for (key, value) in tags {
            assert_eq!(
                run.tags.get(key),
                Some(value),
                "tag {key} of {}",
                run.run.run_name
            );
        }
    }
}

/// Equality, `IN` and numeric comparisons are also tested in SQL to skip
/// runs early; missing values, NaN, infinities and non-ASCII text must give
/// exactly the runs MLflow's semantics give.
async fn filters_tested_in_sql_agree_with_mlflow_semantics(store: Store) {
    let catalog = store.open().await;
    // (name, metric m, param p, tag t)
    type Logged<'a> = (&'a str, Option<f64>, Option<&'a str>, Option<&'a str>);
    let runs: [Logged<'_>; 7] = [
        ("one", Some(1.0), Some("a"), Some("x")),
        ("nan", Some(f64::NAN), Some("ü"), Some("x")),
        ("inf", Some(f64::INFINITY), Some("b"), None),
        ("ninf", Some(f64::NEG_INFINITY), Some("A"), Some("x")),
        ("none", None, None, Some("y")),
        ("neg", Some(-0.5), Some("ü"), Some("x")),
        ("zero", Some(-0.0), Some("a "), None),
    ];
    for (index, (name, metric, param, tag)) in runs.iter().enumerate() {
        let run_id = start(&catalog, "0", name, index as i64).await;
        let batch = RunBatch {
            metrics: metric.map(|v| point("m", v, 1, 0)).into_iter().collect(),
            params: param
                .map(|v| ("p".to_string(), v.to_string()))
                .into_iter()
                .collect(),
            tags: tag
                .map(|v| ("t".to_string(), v.to_string()))
                .into_iter()
                .collect(),
        };
        catalog.log_batch(&run_id, &batch).await.unwrap();
    }
    let cases: [(&str, &[&str]); 10] = [
        ("metrics.m != 1", &["zero", "neg", "ninf", "inf"]),
        ("metrics.m = 0", &["zero"]),
        ("metrics.m >= -1e308", &["zero", "neg", "inf", "one"]),
        ("metrics.m < 0", &["neg", "ninf"]),
        ("metrics.m > 1e308", &["inf"]),
        ("params.p = 'a'", &["one"]),
        ("params.p = 'ü'", &["neg", "nan"]),
        ("params.p = 'ü' and tags.t = 'x'", &["neg", "nan"]),
        ("tags.t = 'x' and metrics.m < 2", &["neg", "ninf", "one"]),
        (
            "params.p != 'a' and metrics.m <= 1",
            &["zero", "neg", "ninf"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            names(&catalog, &search(&["0"], filter, &[])).await,
            expected,
            "{filter}"
        );
    }
}

async fn run_search_filters_orders_views_and_pages(store: Store) {
    let catalog = store.open().await;
    let e1 = catalog
        .create_experiment("one", ArtifactRoot::Proxied, &[])
        .await
        .unwrap()
        .experiment_id;
    let e2 = catalog
        .create_experiment("two", ArtifactRoot::Proxied, &[])
        .await
        .unwrap()
        .experiment_id;
    // (name, experiment, start, acc, lr, team)
    let rows = [
        ("alpha", &e1, 100, Some(0.9), "0.01", Some("ml")),
        ("beta", &e1, 200, Some(0.7), "0.1", Some("data")),
        ("gamma", &e1, 300, None, "0.01", None),
        ("delta", &e2, 400, Some(0.95), "0.001", Some("ml")),
    ];
    let mut ids = BTreeMap::new();
    for (name, experiment, start_time, acc, lr, team) in rows {
        let run_id = start(&catalog, experiment, name, start_time).await;
        let mut batch = RunBatch {
            params: pairs(&[("lr", lr)]),
            ..RunBatch::default()
        };
        if let Some(acc) = acc {
            batch.metrics.push(point("acc", acc, 1, 0));
            batch.metrics.push(point("val loss", 1.0 - acc, 1, 0));
        }
        if let Some(team) = team {
            batch.tags.push(("team".to_string(), team.to_string()));
        }
        catalog.log_batch(&run_id, &batch).await.unwrap();
        ids.insert(name, run_id);
    }
    catalog
        .update_run(
            &ids["beta"],
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(250),
                run_name: None,
            },
        )
        .await
        .unwrap();
    let both = [e1.as_str(), e2.as_str()];

    // Default order: newest first.
    assert_eq!(
        names(&catalog, &search(&both, "", &[])).await,
        ["delta", "gamma", "beta", "alpha"]
    );
    assert_eq!(
        names(&catalog, &search(&[&e1], "", &[])).await,
        ["gamma", "beta", "alpha"]
    );
    let cases: [(&str, &[&str], &[&str]); 14] = [
        ("metrics.acc > 0.8", &[], &["delta", "alpha"]),
        ("metrics.acc > 0.8 and params.lr = '0.01'", &[], &["alpha"]),
        ("metrics.`val loss` < 0.2", &[], &["delta", "alpha"]),
        ("params.lr != '0.01'", &[], &["delta", "beta"]),
        (
            "tags.team = 'ml'",
            &["attributes.start_time ASC"],
            &["alpha", "delta"],
        ),
        ("tags.team IS NULL", &[], &["gamma"]),
        ("attributes.status = 'FINISHED'", &[], &["beta"]),
        ("status != 'FINISHED'", &[], &["delta", "gamma", "alpha"]),
        (
            "run_name LIKE '%a'",
            &["run_name"],
            &["alpha", "beta", "delta", "gamma"],
        ),
        ("attributes.run_name ILIKE 'AL%'", &[], &["alpha"]),
        (
            "attributes.start_time >= 200 and attributes.start_time < 400",
            &[],
            &["gamma", "beta"],
        ),
        ("attributes.end_time > 0", &[], &["beta"]),
        (
            "",
            &["metrics.acc DESC"],
            &["delta", "alpha", "beta", "gamma"],
        ),
        (
            "",
            &["metrics.acc ASC"],
            &["beta", "alpha", "delta", "gamma"],
        ),
    ];
    for (filter, order_by, expected) in cases {
        assert_eq!(
            names(&catalog, &search(&both, filter, order_by)).await,
            expected,
            "filter {filter:?} order {order_by:?}"
        );
    }
    let in_filter = format!(
        "attributes.run_id IN ('{}', '{}')",
        ids["alpha"], ids["delta"]
    );
    assert_eq!(
        names(&catalog, &search(&both, &in_filter, &[])).await,
        ["delta", "alpha"]
    );
    let not_in = format!("run_id NOT IN ('{}')", ids["alpha"]);
    assert_eq!(
        names(&catalog, &search(&both, &not_in, &[])).await,
        ["delta", "gamma", "beta"]
    );
    assert_eq!(
        names(
            &catalog,
            &search(&both, "", &["params.lr DESC", "run_name ASC"])
        )
        .await,
        ["beta", "alpha", "gamma", "delta"]
    );

    // Views.
    catalog
        .set_run_lifecycle(&ids["gamma"], LifecycleStage::Deleted)
        .await
        .unwrap();
    assert_eq!(
        names(&catalog, &search(&both, "", &[])).await,
        ["delta", "beta", "alpha"]
    );
    let mut deleted = search(&both, "", &[]);
    deleted.view = ViewType::DeletedOnly;
    assert_eq!(names(&catalog, &deleted).await, ["gamma"]);
    deleted.view = ViewType::All;
    assert_eq!(names(&catalog, &deleted).await.len(), 4);

    // Pages of one, following tokens to the end.
    let mut paged = search(&both, "", &["metrics.acc DESC"]);
    paged.max_results = 1;
    let mut seen = Vec::new();
    loop {
        let page = catalog.search_runs(&paged).await.unwrap();
        seen.extend(page.runs.into_iter().map(|r| r.run.run_name));
        match page.next_page_token {
            Some(token) => paged.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen, ["delta", "alpha", "beta"]);
    let first = catalog
        .search_runs(&RunSearch {
            page_token: None,
            ..paged.clone()
        })
        .await
        .unwrap();
    let mut other = search(&both, "metrics.acc > 0", &["metrics.acc DESC"]);
    other.page_token = first.next_page_token;
    let message = invalid_message(catalog.search_runs(&other).await);
    assert!(message.contains("different search"), "{message}");

    // Full details come back with the page.
    let found = catalog
        .search_runs(&search(&both, "params.lr = '0.001'", &[]))
        .await
        .unwrap();
    let delta = &found.runs[0];
    assert_eq!(delta.params["lr"], "0.001");
    assert_eq!(delta.tags["team"], "ml");
    assert_eq!(
        delta
            .metrics
            .iter()
            .find(|m| m.key == "acc")
            .map(|m| m.value),
        Some(0.95)
    );

    // Bad filters and orders are Invalid with a position.
    for (filter, needle) in [
        ("metrics.acc >> 1", "at character 14"),
        ("params.lr = 0.01", "quoted string"),
        ("metrics.acc = 'x'", "number"),
        ("tags.t = 'a' or tags.t = 'b'", "OR is not supported"),
        ("nonsense = 'x'", "unknown attribute"),
    ] {
        let message = invalid_message(catalog.search_runs(&search(&both, filter, &[])).await);
        assert!(message.contains(needle), "{filter}: {message}");
    }
    invalid_message(
        catalog
            .search_runs(&search(&both, "", &["metrics.acc UP"]))
            .await,
    );
    let mut huge = search(&both, "", &[]);
    huge.max_results = 50_001;
    invalid_message(catalog.search_runs(&huge).await);
    assert!(names(&catalog, &search(&[], "", &[])).await.is_empty());
}

async fn runs_update_rename_delete_restore_and_untag(store: Store) {
    let catalog = store.open().await;
    let run_id = start(&catalog, "0", "before", 1).await;
    let updated = catalog
        .update_run(
            &run_id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(99),
                run_name: Some("after".to_string()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, RunStatus::Finished);
    assert_eq!(updated.end_time, Some(99));
    assert_eq!(updated.run_name, "after");
    assert_eq!(
        catalog.tracked_run(&run_id).await.unwrap().tags["mlflow.runName"],
        "after"
    );
    // Setting the name tag renames too, as in MLflow.
    catalog
        .set_run_tag(&run_id, "mlflow.runName", "tagged")
        .await
        .unwrap();
    assert_eq!(
        catalog.tracked_run(&run_id).await.unwrap().run.run_name,
        "tagged"
    );
    // An update without fields changes nothing.
    let same = catalog
        .update_run(&run_id, RunUpdate::default())
        .await
        .unwrap();
    assert_eq!(same.run_name, "tagged");

    catalog.set_run_tag(&run_id, "t", "v").await.unwrap();
    catalog.delete_run_tag(&run_id, "t").await.unwrap();
    assert!(
        !catalog
            .tracked_run(&run_id)
            .await
            .unwrap()
            .tags
            .contains_key("t")
    );
    assert!(matches!(
        catalog.delete_run_tag(&run_id, "t").await,
        Err(CatalogError::NotFound { .. })
    ));

    catalog
        .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
        .await
        .unwrap();
    assert_eq!(
        catalog
            .tracked_run(&run_id)
            .await
            .unwrap()
            .run
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    catalog
        .set_run_lifecycle(&run_id, LifecycleStage::Active)
        .await
        .unwrap();
    assert_eq!(
        catalog
            .tracked_run(&run_id)
            .await
            .unwrap()
            .run
            .lifecycle_stage,
        LifecycleStage::Active
    );
    let missing = RunId::new("abababababababababababababababab").unwrap();
    assert!(matches!(
        catalog.update_run(&missing, RunUpdate::default()).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog
            .set_run_lifecycle(&missing, LifecycleStage::Deleted)
            .await,
        Err(CatalogError::NotFound { .. })
    ));
}

async fn metric_history_pages_and_dataset_inputs(store: Store) {
    let catalog = store.open().await;
    let run_id = start(&catalog, "0", "r", 1).await;
    let points: Vec<MetricPoint> = (0..5)
        .map(|step| point("loss", 1.0 / (step + 1) as f64, 10 + step, step))
        .collect();
    catalog
        .log_batch(
            &run_id,
            &RunBatch {
                metrics: points,
                ..RunBatch::default()
            },
        )
        .await
        .unwrap();
    let mut steps = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = catalog
            .metric_history_page(&run_id, "loss", Some(2), token.as_deref())
            .await
            .unwrap();
        assert!(page.points.len() <= 2);
        steps.extend(page.points.iter().map(|p| p.step));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(steps, [0, 1, 2, 3, 4]);
    let all = catalog
        .metric_history_page(&run_id, "loss", None, None)
        .await
        .unwrap();
    assert_eq!(all.points.len(), 5);
    assert_eq!(all.next_page_token, None);
    assert!(
        catalog
            .metric_history_page(&run_id, "none", None, None)
            .await
            .unwrap()
            .points
            .is_empty()
    );
    let token = catalog
        .metric_history_page(&run_id, "loss", Some(1), None)
        .await
        .unwrap()
        .next_page_token;
    let message = invalid_message(
        catalog
            .metric_history_page(&run_id, "other", Some(1), token.as_deref())
            .await,
    );
    assert!(message.contains("different search"), "{message}");

    let input = |name: &str, context: &str| DatasetInput {
        name: name.to_string(),
        digest: "d1".to_string(),
        source_type: "local".to_string(),
        source: "{\"uri\": \"/data\"}".to_string(),
        schema: Some("{}".to_string()),
        profile: None,
        tags: BTreeMap::from([("mlflow.data.context".to_string(), context.to_string())]),
    };
    catalog
        .log_dataset_inputs(
            &run_id,
            &[input("train-set", "train"), input("eval-set", "eval")],
        )
        .await
        .unwrap();
    // The same dataset again keeps the first record.
    catalog
        .log_dataset_inputs(&run_id, &[input("train-set", "changed")])
        .await
        .unwrap();
    let run = catalog.tracked_run(&run_id).await.unwrap();
    assert_eq!(run.dataset_inputs.len(), 2);
    let train = run
        .dataset_inputs
        .iter()
        .find(|d| d.name == "train-set")
        .unwrap();
    assert_eq!(train, &input("train-set", "train"));
    assert_eq!(
        names(&catalog, &search(&["0"], "datasets.context = 'eval'", &[])).await,
        ["r"]
    );
    assert!(
        names(&catalog, &search(&["0"], "datasets.name = 'nope'", &[]))
            .await
            .is_empty()
    );
}
