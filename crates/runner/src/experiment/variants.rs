//! The `[[variants]]` list and the `[grid]` axes of an experiment file, read with every problem reported (see
//! [`super::spec::parse`]).

use std::collections::BTreeMap;

use super::spec::{Variant, is_folder_safe};

pub(super) fn parse_variants(
    value: Option<toml::Value>,
    declared: &mut Vec<String>,
    problem: &mut impl FnMut(&str, String),
) -> Vec<Variant> {
    let Some(value) = value else {
        problem(
            "variants",
            "missing; add [[variants]] tables with a name and a preset".into(),
        );
        return Vec::new();
    };
    let toml::Value::Array(items) = value else {
        problem(
            "variants",
            "must be an array of tables ([[variants]])".into(),
        );
        return Vec::new();
    };
    if items.is_empty() {
        problem("variants", "empty; add at least one variant".into());
    }
    let mut out: Vec<Variant> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("variants[{i}]");
        let toml::Value::Table(mut t) = item else {
            problem(&at, "must be a table with name and preset".into());
            continue;
        };
        let name = match t.remove("name") {
            Some(toml::Value::String(s)) if is_folder_safe(&s) => s,
            Some(v) => {
                problem(
                    &format!("{at}.name"),
                    format!("{v} is not a folder-safe name (letters, digits, - _ .)"),
                );
                continue;
            }
            None => {
                problem(&format!("{at}.name"), "missing".into());
                continue;
            }
        };
        let at = format!("{at} ({name})");
        if declared.contains(&name) {
            problem(&at, "a second variant with this name".into());
            continue;
        }
        declared.push(name.clone());
        let preset = match t.remove("preset") {
            Some(toml::Value::String(s)) => match ablate_model::Preset::parse(&s) {
                Ok(_) => s,
                Err(e) => {
                    problem(&format!("{at}.preset"), e.to_string());
                    continue;
                }
            },
            Some(v) => {
                problem(&format!("{at}.preset"), format!("{v} is not a preset name"));
                continue;
            }
            None => {
                problem(
                    &format!("{at}.preset"),
                    "missing; name a preset such as \"deberta\"".into(),
                );
                continue;
            }
        };
        for key in ["seed", "device"] {
            if t.contains_key(key) {
                problem(&format!("{at}.{key}"), "set by the sweep; remove it".into());
            }
        }
        out.push(Variant {
            name,
            preset,
            overrides: t,
        });
    }
    out
}

pub(super) fn parse_grid(
    value: Option<toml::Value>,
    problem: &mut impl FnMut(&str, String),
) -> Vec<(String, Vec<toml::Value>)> {
    let Some(value) = value else {
        return Vec::new();
    };
    let toml::Value::Table(t) = value else {
        problem(
            "grid",
            "must be a table of dotted keys and value lists".into(),
        );
        return Vec::new();
    };
    let mut axes = BTreeMap::new();
    for (key, values) in t {
        let at = format!("grid.\"{key}\"");
        if matches!(key.as_str(), "seed" | "device") || key.starts_with("model.preset") {
            problem(
                &at,
                "cannot be a grid axis; use seeds or variants instead".into(),
            );
            continue;
        }
        match values {
            toml::Value::Array(v) if !v.is_empty() => {
                axes.insert(key, v);
            }
            _ => problem(
                &at,
                "must be a non-empty list of values, e.g. [1e-3, 3e-4]".into(),
            ),
        }
    }
    axes.into_iter().collect()
}
