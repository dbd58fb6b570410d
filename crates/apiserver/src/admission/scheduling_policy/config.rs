//! The plugin's configuration: finding it in `--admission-control-config-file`, and reading its fields.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::Value;

/// `apiVersion`s of an `AdmissionConfiguration` this server reads.
pub const ADMISSION_CONFIGURATION_API_VERSIONS: [&str; 2] =
    ["apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1alpha1"];

/// The backoff before the first retry when the configuration gives none (or 0): v1's 100 ms.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The configuration of one admission plugin from an `--admission-control-config-file`.
///
/// The file is YAML or JSON (JSON when its first non-blank character is `{`), either
/// - kube's `AdmissionConfiguration` (`apiVersion` one of [`ADMISSION_CONFIGURATION_API_VERSIONS`], `kind:
///   AdmissionConfiguration`, `plugins: [{name, configuration | path}]`): the entry named `plugin` gives
///   the configuration inline (`configuration`) or in another YAML or JSON file (`path`, relative to the
///   directory of `file`); `Ok(None)` when no entry names the plugin or the entry has neither;
/// - or, as federation v1 deployments wrote it, directly the SchedulingPolicy configuration (a mapping with a
///   `kubeconfig` key), which is then the configuration of every plugin.
///
/// # Errors
/// One line naming the file and the cause: unreadable or empty file, invalid JSON or YAML, not a mapping, an
/// unsupported `apiVersion`, a malformed `plugins` list, an unreadable `path`, or a mapping that is neither
/// form.
pub fn plugin_config(file: &Path, plugin: &str) -> Result<Option<Value>, String> {
    let shown = file.display();
    let document = read_document(file)?;
    let Value::Object(map) = &document else {
        return Err(format!(
            "{shown}: expected a mapping (an AdmissionConfiguration or the plugin configuration)"
        ));
    };
    let kind = map.get("kind").and_then(Value::as_str);
    if kind != Some("AdmissionConfiguration") {
        if map.contains_key("kubeconfig") {
            return Ok(Some(document));
        }
        return Err(format!(
            "{shown}: neither an AdmissionConfiguration (apiVersion {}, kind AdmissionConfiguration) nor a \
             SchedulingPolicy configuration (a kubeconfig key)",
            ADMISSION_CONFIGURATION_API_VERSIONS[0]
        ));
    }
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if !ADMISSION_CONFIGURATION_API_VERSIONS.contains(&api_version) {
        return Err(format!(
            "{shown}: unsupported AdmissionConfiguration apiVersion {api_version:?} (supported: {})",
            ADMISSION_CONFIGURATION_API_VERSIONS.join(", ")
        ));
    }
    let plugins = match map.get("plugins") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(plugins)) => plugins,
        Some(_) => return Err(format!("{shown}: plugins must be a list")),
    };
    for (i, entry) in plugins.iter().enumerate() {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{shown}: plugins[{i}].name is required"))?;
        if name != plugin {
            continue;
        }
        if let Some(configuration) = entry.get("configuration").filter(|c| !c.is_null()) {
            return Ok(Some(configuration.clone()));
        }
        let path = match entry.get("path") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(path)) if path.is_empty() => return Ok(None),
            Some(Value::String(path)) => PathBuf::from(path),
            Some(_) => return Err(format!("{shown}: plugins[{i}].path must be a string")),
        };
        // kube: a relative path is relative to the directory of the AdmissionConfiguration.
        let path = file.parent().unwrap_or_else(|| Path::new("")).join(path);
        return read_document(&path)
            .map(Some)
            .map_err(|e| format!("{shown}: plugin {name}: {e}"));
    }
    Ok(None)
}

/// Reads and parses one YAML or JSON document.
fn read_document(file: &Path) -> Result<Value, String> {
    let content =
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    parse_document(&content).map_err(|e| format!("{}: {e}", file.display()))
}

/// Parses YAML or JSON the way kube's `YAMLOrJSONDecoder` does: JSON when the first non-blank character is
/// `{`.
pub(super) fn parse_document(content: &str) -> Result<Value, String> {
    let trimmed = content.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err("the file is empty".to_owned());
    }
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        serde_yaml_ng::from_str(trimmed).map_err(|e| format!("invalid YAML: {e}"))
    }
}

/// The fields of the plugin's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// `kubeconfig`: the kubeconfig pointing at the policy engine (relative to the working directory).
    pub kubeconfig: PathBuf,
    /// `retryBackoff` (milliseconds in the file): the delay before the first retry of a failed query.
    pub retry_backoff: Duration,
}

impl PluginConfig {
    /// Reads the configuration object: `kubeconfig` (required, non-empty string) and `retryBackoff` (integer
    /// milliseconds; absent, null or 0 means [`DEFAULT_RETRY_BACKOFF`]). Other keys are ignored.
    ///
    /// # Errors
    /// One line naming the field: not a mapping, `kubeconfig` missing, empty or not a string, `retryBackoff`
    /// negative (`retryBackoff must not be negative`) or not an integer.
    pub fn parse(config: &Value) -> Result<Self, String> {
        let Value::Object(map) = config else {
            return Err(
                "the configuration must be a mapping with kubeconfig and retryBackoff (--admission-control-config-file not specified or invalid)"
                    .to_owned(),
            );
        };
        let kubeconfig = match map.get("kubeconfig") {
            None | Some(Value::Null) => "",
            Some(Value::String(path)) => path.as_str(),
            Some(_) => return Err("kubeconfig must be a string (a file path)".to_owned()),
        };
        if kubeconfig.is_empty() {
            return Err(
                "kubeconfig path must not be empty: set kubeconfig to a kubeconfig pointing at the policy engine"
                    .to_owned(),
            );
        }
        let retry_backoff = match map.get("retryBackoff") {
            None | Some(Value::Null) => DEFAULT_RETRY_BACKOFF,
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
                (Some(0), _) => DEFAULT_RETRY_BACKOFF,
                (Some(ms), _) => Duration::from_millis(ms),
                (None, Some(_)) => return Err("retryBackoff must not be negative".to_owned()),
                (None, None) if n.as_f64().is_some_and(|f| f < 0.0) => {
                    return Err("retryBackoff must not be negative".to_owned());
                }
                (None, None) => {
                    return Err(format!(
                        "retryBackoff must be an integer number of milliseconds (got {n})"
                    ));
                }
            },
            Some(other) => {
                return Err(format!(
                    "retryBackoff must be an integer number of milliseconds (got {other})"
                ));
            }
        };
        Ok(Self {
            kubeconfig: PathBuf::from(kubeconfig),
            retry_backoff,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn documents_are_json_or_yaml() {
        assert_eq!(parse_document("{\"a\": 1}"), Ok(json!({"a": 1})));
        // v1's test vectors indent JSON with tabs, which YAML would refuse.
        assert_eq!(
            parse_document("\n\t\t{\n\t\t\t\"kubeconfig\": \"/k\"\n\t\t}\n"),
            Ok(json!({"kubeconfig": "/k"}))
        );
        assert_eq!(
            parse_document("kubeconfig: /k\nretryBackoff: 200\n"),
            Ok(json!({"kubeconfig": "/k", "retryBackoff": 200}))
        );
        assert_eq!(parse_document(" \n"), Err("the file is empty".to_owned()));
        assert!(
            parse_document("{\"foo\": ")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert!(parse_document("{foo\" ").unwrap_err().starts_with("invalid JSON"));
        assert!(parse_document("a: [").unwrap_err().starts_with("invalid YAML"));
    }

    #[test]
    fn v1_test_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let no_kubeconfig = "/kube-federation-scheduling-policy-file-not-found-test";
        // (note, file content, whether plugin_config + PluginConfig::parse accept it)
        let cases = [
            ("no config", String::new(), false),
            ("bad json", "{\"foo\": ".to_owned(), false),
            ("bad yaml", "{foo\" ".to_owned(), false),
            ("missing kubeconfig", "{\"foo\": {}}".to_owned(), false),
            (
                "bad retry backoff",
                format!("{{\"kubeconfig\": {no_kubeconfig:?}, \"retryBackoff\": -1}}"),
                false,
            ),
            (
                "a valid config",
                format!("{{\"kubeconfig\": {no_kubeconfig:?}}}"),
                true,
            ),
            (
                "a valid config with retry backoff",
                format!("{{\"kubeconfig\": {no_kubeconfig:?}, \"retryBackoff\": 200}}"),
                true,
            ),
        ];
        for (note, content, ok) in cases {
            let file = write(dir.path(), "admission.json", &content);
            let parsed = plugin_config(&file, "SchedulingPolicy")
                .and_then(|c| c.ok_or_else(|| "no configuration".to_owned()))
                .and_then(|c| PluginConfig::parse(&c));
            assert_eq!(parsed.is_ok(), ok, "{note}: {parsed:?}");
            if let Err(e) = parsed {
                assert!(!e.contains('\n'), "{note}: one line: {e}");
            }
        }
        // "kubeconfig not found" fails when the kubeconfig is loaded (see the plugin's tests).
    }

    #[test]
    fn fields_are_read_and_checked() {
        let parse = |v: Value| PluginConfig::parse(&v);
        assert_eq!(
            parse(json!({"kubeconfig": "/k"})),
            Ok(PluginConfig {
                kubeconfig: PathBuf::from("/k"),
                retry_backoff: DEFAULT_RETRY_BACKOFF
            })
        );
        assert_eq!(
            parse(json!({"kubeconfig": "/k", "retryBackoff": 0})).map(|c| c.retry_backoff),
            Ok(DEFAULT_RETRY_BACKOFF)
        );
        assert_eq!(
            parse(json!({"kubeconfig": "/k", "retryBackoff": 200})).map(|c| c.retry_backoff),
            Ok(Duration::from_millis(200))
        );
        assert_eq!(
            parse(json!({"kubeconfig": "/k", "retryBackoff": -1})),
            Err("retryBackoff must not be negative".to_owned())
        );
        assert!(parse(json!({"kubeconfig": "/k", "retryBackoff": "1s"})).is_err());
        assert!(parse(json!({"kubeconfig": "/k", "retryBackoff": 1.5})).is_err());
        assert!(
            parse(json!({"kubeconfig": ""}))
                .unwrap_err()
                .contains("kubeconfig")
        );
        assert!(
            parse(json!({"kubeconfig": 3}))
                .unwrap_err()
                .contains("kubeconfig")
        );
        assert!(parse(json!({"foo": {}})).unwrap_err().contains("kubeconfig"));
        assert!(parse(json!("kubeconfig")).is_err());
    }

    #[test]
    fn admission_configuration_with_inline_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "admission.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n\
             - name: Other\n  configuration: {x: 1}\n\
             - name: SchedulingPolicy\n  configuration:\n    kubeconfig: /etc/policy/kubeconfig\n    retryBackoff: 5\n",
        );
        assert_eq!(
            plugin_config(&file, "SchedulingPolicy"),
            Ok(Some(
                json!({"kubeconfig": "/etc/policy/kubeconfig", "retryBackoff": 5})
            ))
        );
        assert_eq!(plugin_config(&file, "Missing"), Ok(None));
    }

    #[test]
    fn admission_configuration_with_a_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        write(
            &dir.path().join("conf"),
            "scheduling.json",
            "{\"kubeconfig\": \"/k\", \"retryBackoff\": 7}",
        );
        let file = write(
            dir.path(),
            "admission.json",
            r#"{"apiVersion": "apiserver.k8s.io/v1alpha1", "kind": "AdmissionConfiguration",
                "plugins": [{"name": "SchedulingPolicy", "path": "conf/scheduling.json"}]}"#,
        );
        assert_eq!(
            plugin_config(&file, "SchedulingPolicy"),
            Ok(Some(json!({"kubeconfig": "/k", "retryBackoff": 7})))
        );

        let missing = write(
            dir.path(),
            "missing.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n\
             - name: SchedulingPolicy\n  path: nowhere.yaml\n",
        );
        let err = plugin_config(&missing, "SchedulingPolicy").unwrap_err();
        assert!(
            err.contains("missing.yaml") && err.contains("nowhere.yaml"),
            "{err}"
        );

        let no_config = write(
            dir.path(),
            "none.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: SchedulingPolicy\n",
        );
        assert_eq!(plugin_config(&no_config, "SchedulingPolicy"), Ok(None));
    }

    #[test]
    fn malformed_admission_configurations_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad_version = write(
            dir.path(),
            "a.yaml",
            "apiVersion: apiserver.config.k8s.io/v9\nkind: AdmissionConfiguration\nplugins: []\n",
        );
        assert!(
            plugin_config(&bad_version, "SchedulingPolicy")
                .unwrap_err()
                .contains("unsupported AdmissionConfiguration apiVersion")
        );
        let bad_plugins = write(
            dir.path(),
            "b.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: {}\n",
        );
        assert!(plugin_config(&bad_plugins, "SchedulingPolicy").is_err());
        let nameless = write(
            dir.path(),
            "c.yaml",
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: [{path: x}]\n",
        );
        assert!(
            plugin_config(&nameless, "SchedulingPolicy")
                .unwrap_err()
                .contains("plugins[0].name")
        );
        let scalar = write(dir.path(), "d.yaml", "just a string\n");
        assert!(plugin_config(&scalar, "SchedulingPolicy").is_err());
        let err = plugin_config(&dir.path().join("absent.yaml"), "SchedulingPolicy").unwrap_err();
        assert!(
            err.starts_with("cannot read") && err.contains("absent.yaml"),
            "{err}"
        );
    }

    #[test]
    fn a_direct_v1_configuration_is_the_plugin_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "scheduling.yaml", "kubeconfig: /k\nretryBackoff: 1\n");
        assert_eq!(
            plugin_config(&file, "SchedulingPolicy"),
            Ok(Some(json!({"kubeconfig": "/k", "retryBackoff": 1})))
        );
    }
}
