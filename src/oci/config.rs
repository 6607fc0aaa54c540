//! The image config: what the container runs (Entrypoint, Cmd, Env,
//! WorkingDir, User, Labels), for which platform, and the layers' diff_ids
//! and history — built fresh, or merged onto a base image's config the way
//! a Dockerfile's `FROM base` would.

use serde_json::{Map, Value, json};

use super::digest::Digest;
use super::platform::Platform;
use crate::error::{Error, Result};

/// PATH for an image without a base, as Docker and podman default it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the container runs, as the user asked; `None` and empty mean "not
/// given".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// The Entrypoint. Not given: the bundled program without a base, the
    /// base's Entrypoint with one.
    pub entrypoint: Option<Vec<String>>,
    /// The Cmd (arguments after the Entrypoint). Not given: none, or the
    /// base's when the Entrypoint is the base's too.
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE` settings, overriding a base's for the same KEY.
    pub env: Vec<String>,
    /// The working directory.
    pub workdir: Option<String>,
    /// The user (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// `KEY=VALUE` labels, overriding a base's for the same KEY.
    pub labels: Vec<String>,
}

impl RunConfig {
    /// Checks that every setting is well formed; the message names the setting.
    pub fn check(&self) -> Result<()> {
        for (list, what) in [(&self.env, "environment variable"), (&self.labels, "label")] {
            for kv in list {
                if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                    return Err(Error::Usage(format!(
                        "image {what} {kv:?}: expected KEY=VALUE"
                    )));
                }
            }
        }
        if self.entrypoint.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::Usage("image entrypoint: an empty command".into()));
        }
        Ok(())
    }
}

/// A command given as repeated flags: each value one argument, or a single
/// value that is a JSON array of strings (`["/bin/sh", "-c", "..."]`).
pub fn parse_command(values: &[String]) -> Option<Vec<String>> {
    if values.is_empty() {
        return None;
    }
    if let [one] = values
        && one.trim_start().starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(one)
    {
        return Some(list);
    }
    Some(values.to_vec())
}

/// The layer being added and where it comes from.
pub(crate) struct Layer<'a> {
    pub platform: &'a Platform,
    /// RFC 3339.
    pub created: &'a str,
    pub created_by: &'a str,
    /// Digest of the uncompressed layer tar.
    pub diff_id: &'a Digest,
    /// The bundled program's path in the image: the default Entrypoint.
    pub program: &'a str,
}

/// The config of the image: `base`'s (a whole config document) with the
/// layer added, or a new one.
pub(crate) fn build(base: Option<&Value>, run: &RunConfig, layer: &Layer<'_>) -> Result<Value> {
    let mut cfg = match base {
        Some(b) => b.as_object().cloned().unwrap_or_default(),
        None => Map::new(),
    };
    if base.is_some() {
        same_platform(&cfg, layer)?;
    }
    cfg.insert("created".into(), json!(layer.created));
    cfg.insert("architecture".into(), json!(layer.platform.architecture));
    cfg.insert("os".into(), json!(layer.platform.os));
    if let Some(v) = &layer.platform.variant {
        cfg.insert("variant".into(), json!(v));
    }
    let c = match cfg.remove("config") {
        Some(Value::Object(c)) => c,
        _ => Map::new(),
    };
    cfg.insert(
        "config".into(),
        Value::Object(run_config(c, base.is_some(), run, layer)),
    );
    add_layer(&mut cfg, layer);
    Ok(Value::Object(cfg))
}

/// Refuses a base image of another platform than the bundle's.
fn same_platform(cfg: &Map<String, Value>, layer: &Layer<'_>) -> Result<()> {
    if layer.platform.matches(&Value::Object(cfg.clone())) {
        return Ok(());
    }
    let theirs = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("?");
    Err(Error::Usage(format!(
        "the base image is for {}/{}{}, the bundle for {}",
        theirs("os"),
        theirs("architecture"),
        cfg.get("variant")
            .and_then(Value::as_str)
            .map(|v| format!("/{v}"))
            .unwrap_or_default(),
        layer.platform.display()
    )))
}

/// The `config` object (Env, Entrypoint, Cmd, WorkingDir, User, Labels):
/// the base's `c`, with what the user asked for merged in as a
/// Dockerfile's ENV, ENTRYPOINT, CMD, WORKDIR, USER and LABEL would.
fn run_config(
    mut c: Map<String, Value>,
    on_base: bool,
    run: &RunConfig,
    layer: &Layer<'_>,
) -> Map<String, Value> {
    let mut env = strings(c.get("Env"));
    if !on_base && !run.env.iter().any(|kv| kv.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    for kv in &run.env {
        set_key_value(&mut env, kv);
    }
    set_list(&mut c, "Env", Some(env));
    match (&run.entrypoint, on_base) {
        (Some(e), _) => {
            set_list(&mut c, "Entrypoint", Some(e.clone()));
            // A new Entrypoint does not take the old one's arguments.
            set_list(&mut c, "Cmd", run.cmd.clone());
        }
        (None, false) => {
            set_list(&mut c, "Entrypoint", Some(vec![layer.program.to_string()]));
            set_list(&mut c, "Cmd", run.cmd.clone());
        }
        (None, true) => {
            if let Some(cmd) = &run.cmd {
                set_list(&mut c, "Cmd", Some(cmd.clone()));
            }
        }
    }
    if let Some(w) = &run.workdir {
        c.insert("WorkingDir".into(), json!(w));
    }
    if let Some(u) = &run.user {
        c.insert("User".into(), json!(u));
    }
    if !run.labels.is_empty() {
        let mut labels = match c.remove("Labels") {
            Some(Value::Object(l)) => l,
            _ => Map::new(),
        };
        for kv in &run.labels {
            if let Some((k, v)) = kv.split_once('=') {
                labels.insert(k.to_string(), json!(v));
            }
        }
        c.insert("Labels".into(), Value::Object(labels));
    }
    c
}

/// Appends the layer's diff_id and history entry.
fn add_layer(cfg: &mut Map<String, Value>, layer: &Layer<'_>) {
    let mut diff_ids = match cfg.get("rootfs").and_then(|r| r.get("diff_ids")) {
        Some(Value::Array(ids)) => ids.clone(),
        _ => Vec::new(),
    };
    diff_ids.push(json!(layer.diff_id.to_string()));
    cfg.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    let mut history = match cfg.remove("history") {
        Some(Value::Array(h)) => h,
        _ => Vec::new(),
    };
    history.push(json!({"created": layer.created, "created_by": layer.created_by}));
    cfg.insert("history".into(), Value::Array(history));
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets KEY=VALUE in an Env list: in place of an earlier KEY, else at the end.
fn set_key_value(list: &mut Vec<String>, kv: &str) {
    let key = kv.split_once('=').map_or(kv, |(k, _)| k);
    let same = |e: &String| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key;
    match list.iter_mut().find(|e| same(e)) {
        Some(e) => *e = kv.to_string(),
        None => list.push(kv.to_string()),
    }
}

fn set_list(c: &mut Map<String, Value>, key: &str, list: Option<Vec<String>>) {
    match list {
        Some(l) => c.insert(key.into(), json!(l)),
        None => c.remove(key),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer<'a>(platform: &'a Platform, diff_id: &'a Digest) -> Layer<'a> {
        Layer {
            platform,
            created: "1970-01-01T00:00:00Z",
            created_by: "elfroot bundle /usr/bin/ls",
            diff_id,
            program: "/usr/bin/ls",
        }
    }

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    #[test]
    fn a_new_config_runs_the_program() {
        let (p, d) = (amd64(), Digest::sha256(b"layer"));
        let run = RunConfig {
            cmd: Some(vec!["--version".into()]),
            env: vec!["LANG=C.UTF-8".into()],
            labels: vec!["a=b=c".into()],
            ..RunConfig::default()
        };
        let cfg = build(None, &run, &layer(&p, &d)).unwrap();
        assert_eq!(cfg["architecture"], "amd64");
        assert_eq!(cfg["config"]["Entrypoint"], json!(["/usr/bin/ls"]));
        assert_eq!(cfg["config"]["Cmd"], json!(["--version"]));
        assert_eq!(
            cfg["config"]["Env"],
            json!([format!("PATH={DEFAULT_PATH}"), "LANG=C.UTF-8"])
        );
        assert_eq!(cfg["config"]["Labels"], json!({"a": "b=c"}));
        assert_eq!(cfg["rootfs"]["diff_ids"], json!([d.to_string()]));
        assert_eq!(
            cfg["history"][0]["created_by"],
            "elfroot bundle /usr/bin/ls"
        );
        assert!(cfg.get("variant").is_none());
    }

    #[test]
    fn a_base_is_extended() {
        let (p, d) = (amd64(), Digest::sha256(b"layer"));
        let base = json!({
            "architecture": "amd64", "os": "linux", "author": "someone",
            "config": {"Env": ["PATH=/bin", "A=1"], "Entrypoint": ["/bin/sh"],
                       "Cmd": ["-c", "true"], "ExposedPorts": {"80/tcp": {}}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:x"]},
            "history": [{"created_by": "base"}]
        });
        let run = RunConfig {
            env: vec!["PATH=/usr/bin".into(), "B=2".into()],
            ..RunConfig::default()
        };
        let cfg = build(Some(&base), &run, &layer(&p, &d)).unwrap();
        assert_eq!(cfg["author"], "someone");
        assert_eq!(cfg["config"]["Env"], json!(["PATH=/usr/bin", "A=1", "B=2"]));
        assert_eq!(cfg["config"]["Entrypoint"], json!(["/bin/sh"]));
        assert_eq!(cfg["config"]["Cmd"], json!(["-c", "true"]));
        assert_eq!(cfg["config"]["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(
            cfg["rootfs"]["diff_ids"],
            json!(["sha256:x", d.to_string()])
        );
        assert_eq!(cfg["history"].as_array().unwrap().len(), 2);

        let run = RunConfig {
            entrypoint: Some(vec!["/usr/bin/ls".into()]),
            ..RunConfig::default()
        };
        let cfg = build(Some(&base), &run, &layer(&p, &d)).unwrap();
        assert_eq!(cfg["config"]["Entrypoint"], json!(["/usr/bin/ls"]));
        assert!(cfg["config"].get("Cmd").is_none());
    }

    #[test]
    fn a_base_for_another_platform_is_refused() {
        let (p, d) = (amd64(), Digest::sha256(b"layer"));
        let base = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
        let err = build(Some(&base), &RunConfig::default(), &layer(&p, &d)).unwrap_err();
        assert!(err.to_string().contains("linux/arm64/v8"), "{err}");
    }

    #[test]
    fn commands_and_settings() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_command(&[]), None);
        assert_eq!(
            parse_command(&v(&["-c", "echo hi"])),
            Some(v(&["-c", "echo hi"]))
        );
        assert_eq!(
            parse_command(&v(&[r#"["/bin/sh", "-c", "x"]"#])),
            Some(v(&["/bin/sh", "-c", "x"]))
        );
        assert_eq!(parse_command(&v(&["[x"])), Some(v(&["[x"])));
        let bad = RunConfig {
            env: v(&["NOVALUE"]),
            ..RunConfig::default()
        };
        // The setting and the value, not a flag: the library has no flags.
        let msg = bad.check().unwrap_err().to_string();
        assert!(
            msg.contains("environment variable \"NOVALUE\": expected KEY=VALUE"),
            "{msg}"
        );
    }
}
