//! conftest's builtins `parse_config`, `parse_config_file` and
//! `parse_combined_config_files`, for the formats this engine parses (YAML, JSON,
//! Dockerfile), so that conftest policies and their unit tests that call them run
//! unchanged. They are regorus extensions, installed into every engine.
//!
//! Values have conftest's shapes ([`config_value`]): a file with one YAML/JSON document
//! is that document, one with several is an array of them, an empty YAML file is `null`,
//! and a Dockerfile is `[commands]` in conftest's command shape (`Cmd`, `Flags`, `Value`,
//! …). A parser conftest has and this engine does not (`hcl2`, `toml`, `ini`, …) is an
//! error naming the ones supported, as is a file that does not parse (with its
//! `file:line:col`) or cannot be read.
//!
//! A relative path is looked for in the current directory, then in the directories of
//! the loaded policy files (conftest resolves it against the calling policy's directory,
//! which an extension cannot see). `parse_combined_config_files` gives one
//! `{"path", "contents"}` entry per document, as conftest combines files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use regorus::Value;

use crate::inputs::{self, dockerfile, DocumentKind, FileReport, Format, LoadOptions};

/// The configuration conftest gives policies for one file: a Dockerfile is `[commands]`,
/// one document is itself, several are an array of documents.
pub fn config_value(file: &FileReport) -> serde_json::Value {
    let values: Vec<serde_json::Value> = file
        .documents
        .iter()
        .map(|d| {
            if d.kind == DocumentKind::Dockerfile {
                serde_json::Value::Array(vec![dockerfile::conftest_view(d).0])
            } else {
                d.value.clone()
            }
        })
        .collect();
    match <[serde_json::Value; 1]>::try_from(values) {
        Ok([one]) => one,
        Err(values) => serde_json::Value::Array(values),
    }
}

fn load_options() -> LoadOptions {
    LoadOptions {
        empty_yaml_as_null: true,
        ..LoadOptions::default()
    }
}

/// Parses `text` (named `path` in errors) as `format`, in conftest's shape.
fn parse(path: &str, text: &str, format: Format) -> Result<serde_json::Value> {
    let report = inputs::load_text(path, text, format, &load_options());
    if let Some(e) = report.errors.first() {
        bail!("{e}");
    }
    Ok(config_value(&report))
}

/// conftest's parser names for the formats this engine parses.
fn format_of_parser(name: &str) -> Result<Format> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Format::Yaml,
        "json" => Format::Json,
        "dockerfile" | "docker" => Format::Dockerfile,
        other => {
            bail!("parser {other:?} is not available: this engine parses yaml, json and dockerfile")
        }
    })
}

/// Where a path a policy names is: as given when it exists (or is absolute), else in the
/// first policy directory that has it.
fn resolve(path: &str, dirs: &[PathBuf]) -> String {
    let p = Path::new(path);
    if p.is_absolute() || p.exists() {
        return path.to_owned();
    }
    dirs.iter()
        .map(|d| d.join(p))
        .find(|c| c.exists())
        .map_or_else(|| path.to_owned(), |c| c.display().to_string())
}

/// `path: no such file or directory` (the operating system's wording, as conftest and
/// OPA report it).
fn io_error(path: &str, e: &std::io::Error) -> anyhow::Error {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    anyhow::anyhow!("{path}: {what}")
}

/// Reads and parses one file, its format from its name (or content).
fn parse_file(path: &str, dirs: &[PathBuf]) -> Result<serde_json::Value> {
    let path = &resolve(path, dirs);
    let opts = load_options();
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.len() > opts.max_file_size {
        bail!("{path}: larger than {} bytes", opts.max_file_size);
    }
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    let format = inputs::format_from_name(Path::new(path))
        .or_else(|| inputs::format_from_content(&text))
        .with_context(|| {
            format!("{path}: unknown format (this engine parses YAML, JSON and Dockerfiles)")
        })?;
    parse(path, &text, format)
}

fn string_arg<'a>(args: &'a [Value], i: usize, builtin: &str) -> Result<&'a str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        _ => bail!("`{builtin}` expects a string as argument {}", i + 1),
    }
}

fn to_rego(v: serde_json::Value) -> Value {
    Value::from(v)
}

/// `f` as an extension that, like every builtin, leaves its expression undefined on an
/// error unless the engine is `strict` (`--strict`, `--show-builtin-errors`).
fn builtin(
    strict: bool,
    f: impl Fn(Vec<Value>) -> Result<Value> + Clone + Send + Sync + 'static,
) -> Box<dyn regorus::Extension> {
    Box::new(move |args: Vec<Value>| match f(args) {
        Err(_) if super::builtins::errors_are_undefined(strict) => Ok(Value::Undefined),
        other => other,
    })
}

/// Installs the three builtins into `engine`; `dirs` are the directories of the loaded
/// policy files, for relative paths.
pub(super) fn install(
    engine: &mut regorus::Engine,
    dirs: Arc<Vec<PathBuf>>,
    strict: bool,
) -> Result<()> {
    let file_dirs = Arc::clone(&dirs);
    engine.add_extension(
        "parse_config".into(),
        2,
        builtin(strict, |args: Vec<Value>| {
            let parser = string_arg(&args, 0, "parse_config")?;
            let content = string_arg(&args, 1, "parse_config")?;
            Ok(to_rego(parse(
                "<parse_config>",
                content,
                format_of_parser(parser)?,
            )?))
        }),
    )?;
    engine.add_extension(
        "parse_config_file".into(),
        1,
        builtin(strict, move |args: Vec<Value>| {
            let path = string_arg(&args, 0, "parse_config_file")?;
            Ok(to_rego(parse_file(path, &file_dirs)?))
        }),
    )?;
    engine.add_extension(
        "parse_combined_config_files".into(),
        1,
        builtin(strict, move |args: Vec<Value>| {
            let paths = match args.first() {
                Some(Value::Array(items)) => items.clone(),
                _ => bail!("`parse_combined_config_files` expects an array of paths"),
            };
            let mut combined = Vec::new();
            for p in paths.iter() {
                let Value::String(path) = p else {
                    bail!("`parse_combined_config_files` expects an array of strings");
                };
                let contents = match parse_file(path, &dirs)? {
                    serde_json::Value::Array(docs) => docs,
                    one => vec![one],
                };
                for contents in contents {
                    combined.push(serde_json::json!({
                        "path": path.as_ref(),
                        "contents": contents,
                    }));
                }
            }
            Ok(to_rego(serde_json::Value::Array(combined)))
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> regorus::Engine {
        let mut e = regorus::Engine::new();
        install(&mut e, Arc::new(Vec::new()), true).expect("fresh engine");
        e
    }

    fn eval(e: &mut regorus::Engine, q: &str) -> Result<serde_json::Value> {
        let v = e.eval_rule(q.to_string())?;
        Ok(serde_json::to_value(&v)?)
    }

    #[test]
    fn parse_config_yaml_json_dockerfile() {
        let mut e = engine();
        e.add_policy(
            "t.rego".into(),
            r#"package t
y := parse_config("yaml", "a: 1\nb: [x]\n")
m := parse_config("yaml", "a: 1\n---\na: 2\n")
n := parse_config("yaml", "")
j := parse_config("json", "{\"k\": true}")
d := parse_config("dockerfile", "FROM alpine:3\nRUN apk add curl\n")
"#
            .into(),
        )
        .expect("parses");
        assert_eq!(
            eval(&mut e, "data.t.y").unwrap(),
            serde_json::json!({"a": 1, "b": ["x"]})
        );
        assert_eq!(
            eval(&mut e, "data.t.m").unwrap(),
            serde_json::json!([{"a": 1}, {"a": 2}])
        );
        assert_eq!(eval(&mut e, "data.t.n").unwrap(), serde_json::Value::Null);
        assert_eq!(
            eval(&mut e, "data.t.j").unwrap(),
            serde_json::json!({"k": true})
        );
        let d = eval(&mut e, "data.t.d").unwrap();
        assert_eq!(d[0][0]["Cmd"], "from");
        assert_eq!(d[0][0]["Value"], serde_json::json!(["alpine:3"]));
        assert_eq!(d[0][1]["Cmd"], "run");
    }

    #[test]
    fn unknown_parser_and_bad_input_are_errors() {
        let mut e = engine();
        e.add_policy(
            "t.rego".into(),
            "package t\nh := parse_config(\"hcl2\", \"a = 1\")\nb := parse_config(\"yaml\", \"a: [1\")\n"
                .into(),
        )
        .expect("parses");
        let err = eval(&mut e, "data.t.h").unwrap_err().to_string();
        assert!(err.contains("parser \"hcl2\" is not available"), "{err}");
        let err = eval(&mut e, "data.t.b").unwrap_err().to_string();
        assert!(err.contains("<parse_config>:"), "{err}");
    }

    #[test]
    fn files_and_combined_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, "kind: Service\n").expect("write");
        let df = dir.path().join("Dockerfile");
        std::fs::write(&df, "FROM scratch\n").expect("write");
        let mut e = engine();
        let policy = format!(
            "package t\nf := parse_config_file({a:?})\nc := parse_combined_config_files([{a:?}, {df:?}])\nmissing := parse_config_file(\"/nonexistent/x.yaml\")\n",
            a = a.display().to_string(),
            df = df.display().to_string()
        );
        e.add_policy("t.rego".into(), policy).expect("parses");
        assert_eq!(
            eval(&mut e, "data.t.f").unwrap(),
            serde_json::json!({"kind": "Service"})
        );
        let c = eval(&mut e, "data.t.c").unwrap();
        assert_eq!(c[0]["path"], a.display().to_string());
        assert_eq!(c[0]["contents"], serde_json::json!({"kind": "Service"}));
        assert_eq!(c[1]["contents"][0]["Cmd"], "from");
        let err = eval(&mut e, "data.t.missing").unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/x.yaml: no such file or directory"),
            "{err}"
        );
    }
}
