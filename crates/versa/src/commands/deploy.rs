//! `versa deploy NAME --alias ALIAS --canary VERSION:PERCENT | --shadow VERSION | --clear`:
//! sets the canary and shadow routing of an alias in the catalog, which every
//! running `versa serve` picks up on its next refresh (within a second).
//!
//! The alias itself keeps naming the primary version (move it with
//! `versa models promote`); this command never moves it.

use anyhow::{Context, Result, bail};
use serde_json::json;
use versa_core::{Alias, ModelName};

use crate::Global;
use crate::render;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model name.
    name: String,
    /// The alias whose traffic is routed (e.g. production).
    #[arg(long)]
    alias: String,
    /// A version answering PERCENT % of the alias's requests, e.g. `3:10`.
    #[arg(long, value_name = "VERSION:PERCENT", conflicts_with = "clear")]
    canary: Option<String>,
    /// A version run on every request's rows beside the primary; its answers are logged, never returned.
    #[arg(long, value_name = "VERSION", conflicts_with = "clear")]
    shadow: Option<u32>,
    /// Remove the canary and the shadow: plain alias routing.
    #[arg(long)]
    clear: bool,
    /// Name recorded with the route (default: $VERSA_ACTOR, else $USER).
    #[arg(long, env = "VERSA_ACTOR")]
    actor: Option<String>,
}

/// Parses `VERSION:PERCENT` (version ≥ 1, percent 0–100).
fn parse_canary(text: &str) -> Result<(u32, u8)> {
    let expected = "expected VERSION:PERCENT, e.g. 3:10 (version ≥ 1, percent 0 to 100)";
    let Some((version, percent)) = text.split_once(':') else {
        bail!("--canary `{text}` has no `:`; {expected}");
    };
    let version: u32 = version
        .trim()
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .with_context(|| format!("--canary `{text}`: `{version}` is not a version; {expected}"))?;
    let percent: u8 = percent
        .trim()
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|p| *p <= 100)
        .with_context(|| format!("--canary `{text}`: `{percent}` is not a percent; {expected}"))?;
    Ok((version, percent))
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    if !args.clear && args.canary.is_none() && args.shadow.is_none() {
        bail!("say what to route: --canary VERSION:PERCENT, --shadow VERSION, or --clear");
    }
    let name = ModelName::new(&args.name)?;
    let alias = Alias::new(&args.alias)?;
    let canary = args.canary.as_deref().map(parse_canary).transpose()?;
    let actor = args
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|actor| !actor.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let workspace = super::open_workspace(global).await?;
    let primary = workspace
        .catalog
        .resolve(&name, &versa_core::VersionSelector::Alias(alias.clone()))
        .await
        .with_context(|| format!("cannot route `{name}@{alias}`"))?
        .version;
    workspace
        .catalog
        .set_alias_route(&name, &alias, canary, args.shadow, &actor)
        .await
        .with_context(|| format!("cannot route `{name}@{alias}`"))?;
    if global.json {
        return super::print_json(&json!({
            "model": name,
            "alias": alias,
            "primary_version": primary,
            "canary": canary.map(|(version, percent)| json!({"version": version, "percent": percent})),
            "shadow_version": args.shadow,
            "actor": actor,
        }));
    }
    let mut table = render::table(&["role", "version", "share of answers"]);
    let canary_percent = canary.map_or(0, |(_, percent)| percent);
    table.add_row(vec![
        "primary".into(),
        render::num(primary),
        render::num(format!("{}%", 100 - canary_percent)),
    ]);
    if let Some((version, percent)) = canary {
        table.add_row(vec![
            "canary".into(),
            render::num(version),
            render::num(format!("{percent}%")),
        ]);
    }
    if let Some(version) = args.shadow {
        table.add_row(vec![
            "shadow".into(),
            render::num(version),
            render::num("0% (runs, logged only)"),
        ]);
    }
    println!("{name}@{alias} routing (served within a second by running servers):");
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_canary;

    #[test]
    fn canary_specs_parse_or_say_what_is_expected() {
        assert_eq!(parse_canary("3:10").unwrap(), (3, 10));
        assert_eq!(parse_canary("2:100%").unwrap(), (2, 100));
        for bad in ["3", "0:10", "3:101", "x:5", "3:-1"] {
            let message = parse_canary(bad).unwrap_err().to_string();
            assert!(message.contains("VERSION:PERCENT"), "{bad}: {message}");
        }
    }
}
