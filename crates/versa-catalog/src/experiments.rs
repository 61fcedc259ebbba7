//! Experiments as MLflow's tracking API manages them: create with tags and
//! an artifact location, read by id or name, rename, soft-delete and
//! restore, tag, and search with MLflow's filter and order grammar.
//!
//! versa's own pipeline only needs `experiment_by_name_or_create` (in
//! `tracking`); this module is the rest of MLflow's experiment model. Ids
//! come from the same sequence (the largest integer id plus one, under the
//! experiment-id lock), so ids stay integers whichever side created them.
//! Experiments are few, so searches read them all and filter in Rust.
//!
//! Must not know HTTP or JSON.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sqlx::Row;

use crate::error::db;
use crate::run_search::{
    Entity, NumberTest, SortValue, TextTest, ViewType, check_page_size, compare_sort_values,
    decode_page_token, encode_page_token, parse_filter, parse_order_term, search_scope,
};
use crate::types::{Experiment, LifecycleStage};
use crate::{Catalog, CatalogError, Result, now_ms};

/// MLflow's longest experiment name, in characters.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// MLflow's longest experiment tag key, in characters.
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
/// MLflow's longest experiment tag value, in characters.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;

/// An experiment with its tags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExperimentDetail {
    /// The experiment row.
    pub experiment: Experiment,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Where a new experiment's runs keep artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRoot {
    /// `mlflow-artifacts:/<experiment id>`: through the tracking server's
    /// artifact proxy (what MLflow's server gives when none is asked).
    Proxied,
    /// Exactly this location, as the client asked.
    Given(String),
}

/// An experiment search (MLflow's `SearchExperiments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentSearch {
    /// Filter over `name`, `creation_time`, `last_update_time` and `tags.<key>`.
    pub filter: String,
    /// Live, deleted or all.
    pub view: ViewType,
    /// Page size, 1 to 50,000.
    pub max_results: usize,
    /// Terms over `name`, `experiment_id`, `creation_time`, `last_update_time`;
    /// default `creation_time DESC, experiment_id ASC`.
    pub order_by: Vec<String>,
    /// The page to read (`None`: the first).
    pub page_token: Option<String>,
}

/// One page of an experiment search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentPage {
    /// The experiments, in order.
    pub experiments: Vec<ExperimentDetail>,
    /// The token of the next page, if there is one.
    pub next_page_token: Option<String>,
}

const EXPERIMENT_FILTER: &str = "experiment search filter";
const EXPERIMENT_ORDER: &str = "experiment search order_by";
const EXPERIMENT_ATTRIBUTES: &str = "name, experiment_id, creation_time, last_update_time";

fn experiment_not_found(key: &str) -> CatalogError {
    CatalogError::NotFound {
        what: "experiment",
        key: key.to_string(),
        hint: "search experiments to see existing ids and names".to_string(),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(CatalogError::Invalid {
            what: "experiment name",
            value: name.to_string(),
            expected: format!("1 to {MAX_EXPERIMENT_NAME_LENGTH} characters, not only whitespace"),
        });
    }
    Ok(())
}

fn check_tag(key: &str, value: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > MAX_EXPERIMENT_TAG_KEY_LENGTH {
        return Err(CatalogError::Invalid {
            what: "experiment tag key",
            value: key.to_string(),
            expected: format!("1 to {MAX_EXPERIMENT_TAG_KEY_LENGTH} characters"),
        });
    }
    if value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
        return Err(CatalogError::Invalid {
            what: "experiment tag value",
            value: format!("{} characters for key `{key}`", value.chars().count()),
            expected: format!("at most {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"),
        });
    }
    Ok(())
}

/// An experiment attribute a search can filter or order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExperimentAttribute {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
}

impl ExperimentAttribute {
    fn from_key(key: &str) -> Option<ExperimentAttribute> {
        match key {
            "name" => Some(ExperimentAttribute::Name),
            "experiment_id" => Some(ExperimentAttribute::ExperimentId),
            "creation_time" => Some(ExperimentAttribute::CreationTime),
            "last_update_time" => Some(ExperimentAttribute::LastUpdateTime),
            _ => None,
        }
    }

    fn value(self, experiment: &Experiment) -> SortValue {
        match self {
            ExperimentAttribute::Name => SortValue::Text(experiment.name.clone()),
            // Ids are integers in text; they order as numbers, as in MLflow's SQL store.
            ExperimentAttribute::ExperimentId => match experiment.experiment_id.parse::<f64>() {
                Ok(number) => SortValue::Number(number),
                Err(_) => SortValue::Text(experiment.experiment_id.clone()),
            },
            ExperimentAttribute::CreationTime => SortValue::Number(experiment.creation_time as f64),
            ExperimentAttribute::LastUpdateTime => {
                SortValue::Number(experiment.last_update_time as f64)
            }
        }
    }
}

#[derive(Debug, Clone)]
enum ExperimentCondition {
    Text(ExperimentAttribute, TextTest),
    Number(ExperimentAttribute, NumberTest),
    Tag(String, TextTest),
}

fn parse_experiment_filter(text: &str) -> Result<Vec<ExperimentCondition>> {
    let mut conditions = Vec::new();
    for clause in parse_filter(EXPERIMENT_FILTER, text)? {
        let condition = match clause.entity {
            Entity::Tag => ExperimentCondition::Tag(
                clause.key.clone(),
                clause.text_test(text, EXPERIMENT_FILTER, false, true)?,
            ),
            Entity::Attribute => match ExperimentAttribute::from_key(&clause.key) {
                Some(
                    attribute @ (ExperimentAttribute::CreationTime
                    | ExperimentAttribute::LastUpdateTime),
                ) => ExperimentCondition::Number(
                    attribute,
                    clause.number_test(text, EXPERIMENT_FILTER)?,
                ),
                Some(attribute) => ExperimentCondition::Text(
                    attribute,
                    clause.text_test(text, EXPERIMENT_FILTER, true, false)?,
                ),
                None => {
                    return Err(CatalogError::Invalid {
                        what: EXPERIMENT_FILTER,
                        value: text.to_string(),
                        expected: format!(
                            "in the comparison at character {}: unknown attribute `{}`; \
                             experiments are searched by {EXPERIMENT_ATTRIBUTES} or tags.<key>",
                            clause.at, clause.key
                        ),
                    });
                }
            },
            other => {
                return Err(CatalogError::Invalid {
                    what: EXPERIMENT_FILTER,
                    value: text.to_string(),
                    expected: format!(
                        "in the comparison at character {}: experiments have no {other:?} \
                         values; search by {EXPERIMENT_ATTRIBUTES} or tags.<key>",
                        clause.at
                    ),
                });
            }
        };
        conditions.push(condition);
    }
    Ok(conditions)
}

fn parse_experiment_order(text: &str) -> Result<(ExperimentAttribute, bool)> {
    let (identifier, ascending) = parse_order_term(EXPERIMENT_ORDER, text)?;
    match (
        identifier.entity,
        ExperimentAttribute::from_key(&identifier.key),
    ) {
        (Entity::Attribute, Some(attribute)) => Ok((attribute, ascending)),
        _ => Err(CatalogError::Invalid {
            what: EXPERIMENT_ORDER,
            value: text.to_string(),
            expected: format!("one of {EXPERIMENT_ATTRIBUTES}, optionally followed by ASC or DESC"),
        }),
    }
}

fn condition_holds(condition: &ExperimentCondition, detail: &ExperimentDetail) -> bool {
    match condition {
        ExperimentCondition::Tag(key, test) => test.test(detail.tags.get(key).map(String::as_str)),
        ExperimentCondition::Text(attribute, test) => match attribute.value(&detail.experiment) {
            SortValue::Text(text) => test.test(Some(&text)),
            SortValue::Number(_) => test.test(Some(&detail.experiment.experiment_id)),
        },
        ExperimentCondition::Number(attribute, test) => match attribute.value(&detail.experiment) {
            SortValue::Number(number) => test.test(Some(number)),
            SortValue::Text(_) => false,
        },
    }
}

impl Catalog {
    /// Creates an experiment (MLflow's `CreateExperiment`). A name already
    /// taken, by a live or a deleted experiment, is
    /// [`CatalogError::AlreadyExists`].
    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_root: ArtifactRoot,
        tags: &[(String, String)],
    ) -> Result<Experiment> {
        check_name(name)?;
        for (key, value) in tags {
            check_tag(key, value)?;
        }
        dispatch!(self, ops => ops.create_experiment(name, &artifact_root, tags).await)
    }

    /// An experiment and its tags, by id.
    pub async fn experiment(&self, experiment_id: &str) -> Result<ExperimentDetail> {
        dispatch!(self, ops => ops.experiment_detail("experiment_id", experiment_id).await)?
            .ok_or_else(|| experiment_not_found(experiment_id))
    }

    /// An experiment and its tags, by name (live or deleted).
    pub async fn experiment_by_name(&self, name: &str) -> Result<ExperimentDetail> {
        dispatch!(self, ops => ops.experiment_detail("name", name).await)?
            .ok_or_else(|| experiment_not_found(name))
    }

    /// Renames a live experiment; the new name must be free.
    pub async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        check_name(new_name)?;
        dispatch!(self, ops => ops.rename_experiment(experiment_id, new_name).await)
    }

    /// Soft-deletes or restores an experiment and, as MLflow does, all its runs.
    pub async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
    ) -> Result<()> {
        dispatch!(self, ops => ops.set_experiment_lifecycle(experiment_id, stage).await)
    }

    /// Sets (or overwrites) an experiment tag.
    pub async fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_tag(key, value)?;
        dispatch!(self, ops => ops.set_experiment_tag(experiment_id, key, Some(value)).await)
    }

    /// Removes an experiment tag; one that is not set is [`CatalogError::NotFound`].
    pub async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        dispatch!(self, ops => ops.set_experiment_tag(experiment_id, key, None).await)
    }

    /// Searches experiments (MLflow's `SearchExperiments`).
    pub async fn search_experiments(&self, search: &ExperimentSearch) -> Result<ExperimentPage> {
        check_page_size(search.max_results)?;
        let conditions = parse_experiment_filter(&search.filter)?;
        let mut order = search
            .order_by
            .iter()
            .map(|term| parse_experiment_order(term))
            .collect::<Result<Vec<_>>>()?;
        if order.is_empty() {
            order = vec![
                (ExperimentAttribute::CreationTime, false),
                (ExperimentAttribute::ExperimentId, true),
            ];
        }
        if !order
            .iter()
            .any(|(attribute, _)| *attribute == ExperimentAttribute::ExperimentId)
        {
            order.push((ExperimentAttribute::ExperimentId, false));
        }
        let mut scope_parts = vec!["experiments", search.view.as_str(), &search.filter, "|"];
        scope_parts.extend(search.order_by.iter().map(String::as_str));
        let scope = search_scope(&scope_parts);
        let offset = decode_page_token(search.page_token.as_deref(), &scope)?;

        let mut all = dispatch!(self, ops => ops.all_experiment_details().await)?;
        all.retain(|detail| {
            search.view.admits(detail.experiment.lifecycle_stage)
                && conditions
                    .iter()
                    .all(|condition| condition_holds(condition, detail))
        });
        all.sort_by(|left, right| {
            for (attribute, ascending) in &order {
                let ordering = compare_sort_values(
                    &Some(attribute.value(&left.experiment)),
                    &Some(attribute.value(&right.experiment)),
                    *ascending,
                );
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
        let total = all.len();
        let end = offset.saturating_add(search.max_results).min(total);
        let experiments = all
            .into_iter()
            .skip(offset)
            .take(end.saturating_sub(offset))
            .collect();
        Ok(ExperimentPage {
            experiments,
            next_page_token: (end < total).then(|| encode_page_token(end, &scope)),
        })
    }
}

for_each_backend! {
    fn detail_from_row(row: &DbRow, tags: BTreeMap<String, String>) -> Result<ExperimentDetail> {
        let operation = "read experiments";
        let stage: String = row.try_get("lifecycle_stage").map_err(db(operation))?;
        Ok(ExperimentDetail {
            experiment: Experiment {
                experiment_id: row.try_get("experiment_id").map_err(db(operation))?,
                name: row.try_get("name").map_err(db(operation))?,
                artifact_location: row.try_get("artifact_location").map_err(db(operation))?,
                lifecycle_stage: LifecycleStage::parse_stored("experiments", &stage)?,
                creation_time: row.try_get("creation_time").map_err(db(operation))?,
                last_update_time: row.try_get("last_update_time").map_err(db(operation))?,
            },
            tags,
        })
    }

    impl Ops<'_> {
        pub(crate) async fn create_experiment(
            &self,
            name: &str,
            artifact_root: &ArtifactRoot,
            tags: &[(String, String)],
        ) -> Result<Experiment> {
            let operation = format!("create experiment `{name}`");
            let mut tx = self.write_tx(&operation).await?;
            // Ids come from one sequence over all experiments, so creators take turns.
            self.lock_name(&mut tx, "experiments", "", &operation).await?;
            let taken: Option<(String, String)> = sqlx::query_as(
                "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if let Some((id, stage)) = taken {
                let hint = if stage == LifecycleStage::Deleted.as_str() {
                    format!("experiment {id} has it and is deleted; restore it or choose another name")
                } else {
                    format!("experiment {id} has it; use it or choose another name")
                };
                return Err(CatalogError::AlreadyExists {
                    what: "experiment",
                    key: name.to_string(),
                    hint,
                });
            }
            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(CAST(experiment_id AS BIGINT)), 0) + 1 FROM experiments",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db(&operation))?;
            let now = now_ms();
            let experiment = Experiment {
                experiment_id: next.to_string(),
                name: name.to_string(),
                artifact_location: match artifact_root {
                    ArtifactRoot::Proxied => format!("mlflow-artifacts:/{next}"),
                    ArtifactRoot::Given(location) => location.clone(),
                },
                lifecycle_stage: LifecycleStage::Active,
                creation_time: now,
                last_update_time: now,
            };
            sqlx::query(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
                 creation_time, last_update_time) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&experiment.experiment_id)
            .bind(&experiment.name)
            .bind(&experiment.artifact_location)
            .bind(experiment.lifecycle_stage.as_str())
            .bind(experiment.creation_time)
            .bind(experiment.last_update_time)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            for (key, value) in tags {
                sqlx::query(
                    "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(&experiment.experiment_id)
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))?;
            Ok(experiment)
        }

        /// By `experiment_id` or `name` (the column is never user input).
        pub(crate) async fn experiment_detail(
            &self,
            column: &'static str,
            value: &str,
        ) -> Result<Option<ExperimentDetail>> {
            let operation = format!("read experiment {value}");
            let sql = if column == "name" {
                "SELECT * FROM experiments WHERE name = $1"
            } else {
                "SELECT * FROM experiments WHERE experiment_id = $1"
            };
            let Some(row) = sqlx::query(sql)
                .bind(value)
                .fetch_optional(self.pool())
                .await
                .map_err(db(&operation))?
            else {
                return Ok(None);
            };
            let id: String = row.try_get("experiment_id").map_err(db(&operation))?;
            let tags: Vec<(String, String)> =
                sqlx::query_as("SELECT key, value FROM experiment_tags WHERE experiment_id = $1")
                    .bind(&id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            detail_from_row(&row, tags.into_iter().collect()).map(Some)
        }

        pub(crate) async fn all_experiment_details(&self) -> Result<Vec<ExperimentDetail>> {
            let operation = "search experiments";
            let rows = sqlx::query("SELECT * FROM experiments")
                .fetch_all(self.pool())
                .await
                .map_err(db(operation))?;
            let tag_rows: Vec<(String, String, String)> =
                sqlx::query_as("SELECT experiment_id, key, value FROM experiment_tags")
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(operation))?;
            let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for (id, key, value) in tag_rows {
                tags.entry(id).or_default().insert(key, value);
            }
            rows.iter()
                .map(|row| {
                    let id: String = row.try_get("experiment_id").map_err(db(operation))?;
                    detail_from_row(row, tags.remove(&id).unwrap_or_default())
                })
                .collect()
        }

        /// Locks the experiment row (PostgreSQL) and returns its stage.
        async fn experiment_stage(
            &self,
            tx: &mut sqlx::Transaction<'static, Db>,
            experiment_id: &str,
            operation: &str,
        ) -> Result<LifecycleStage> {
            self.lock_name(tx, "experiment", experiment_id, operation).await?;
            let stage: Option<String> = sqlx::query_scalar(
                "SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1",
            )
            .bind(experiment_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db(operation))?;
            match stage {
                None => Err(experiment_not_found(experiment_id)),
                Some(stage) => LifecycleStage::parse_stored("experiments", &stage),
            }
        }

        pub(crate) async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
            let operation = format!("rename experiment {experiment_id} to `{new_name}`");
            let mut tx = self.write_tx(&operation).await?;
            // Names are unique across experiments: take the creators' lock too.
            self.lock_name(&mut tx, "experiments", "", &operation).await?;
            if self.experiment_stage(&mut tx, experiment_id, &operation).await?
                != LifecycleStage::Active
            {
                return Err(CatalogError::Invalid {
                    what: "experiment",
                    value: experiment_id.to_string(),
                    expected: "an active experiment: a deleted one cannot be renamed (restore it first)"
                        .to_string(),
                });
            }
            let holder: Option<String> =
                sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE name = $1")
                    .bind(new_name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            match holder {
                Some(holder) if holder == experiment_id => {}
                Some(holder) => {
                    return Err(CatalogError::AlreadyExists {
                        what: "experiment",
                        key: new_name.to_string(),
                        hint: format!("experiment {holder} has that name; choose another"),
                    });
                }
                None => {}
            }
            sqlx::query(
                "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
            )
            .bind(new_name)
            .bind(now_ms())
            .bind(experiment_id)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        /// Marks the experiment and, as MLflow does, every run in it.
        pub(crate) async fn set_experiment_lifecycle(
            &self,
            experiment_id: &str,
            stage: LifecycleStage,
        ) -> Result<()> {
            let operation = format!("mark experiment {experiment_id} {}", stage.as_str());
            let mut tx = self.write_tx(&operation).await?;
            let updated = sqlx::query(
                "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 \
                 WHERE experiment_id = $3",
            )
            .bind(stage.as_str())
            .bind(now_ms())
            .bind(experiment_id)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if updated.rows_affected() == 0 {
                return Err(experiment_not_found(experiment_id));
            }
            sqlx::query("UPDATE runs SET lifecycle_stage = $1 WHERE experiment_id = $2")
                .bind(stage.as_str())
                .bind(experiment_id)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        /// Sets a tag (`Some` value) or deletes it (`None`).
        pub(crate) async fn set_experiment_tag(
            &self,
            experiment_id: &str,
            key: &str,
            value: Option<&str>,
        ) -> Result<()> {
            let operation = format!("set tag `{key}` of experiment {experiment_id}");
            let mut tx = self.write_tx(&operation).await?;
            if self.experiment_stage(&mut tx, experiment_id, &operation).await?
                != LifecycleStage::Active
            {
                return Err(CatalogError::Invalid {
                    what: "experiment",
                    value: experiment_id.to_string(),
                    expected: "an active experiment: a deleted one cannot be tagged (restore it first)"
                        .to_string(),
                });
            }
            match value {
                Some(value) => {
                    sqlx::query(
                        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(experiment_id)
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                }
                None => {
                    let deleted = sqlx::query(
                        "DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2",
                    )
                    .bind(experiment_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                    if deleted.rows_affected() == 0 {
                        return Err(CatalogError::NotFound {
                            what: "experiment tag",
                            key: key.to_string(),
                            hint: format!("experiment {experiment_id} has no tag with that name"),
                        });
                    }
                }
            }
            sqlx::query("UPDATE experiments SET last_update_time = $1 WHERE experiment_id = $2")
                .bind(now_ms())
                .bind(experiment_id)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_filters_accept_names_times_and_tags_only() {
        let conditions = parse_experiment_filter(
            "name LIKE 'churn%' and tags.team = 'ml' and creation_time > 5",
        )
        .unwrap();
        assert_eq!(conditions.len(), 3);
        let message = parse_experiment_filter("metrics.acc > 1")
            .unwrap_err()
            .to_string();
        assert!(message.contains("experiments have no"), "{message}");
        let message = parse_experiment_filter("colour = 'x'")
            .unwrap_err()
            .to_string();
        assert!(message.contains("unknown attribute `colour`"), "{message}");
        let message = parse_experiment_order("tags.x").unwrap_err().to_string();
        assert!(message.contains("one of name"), "{message}");
    }
}
