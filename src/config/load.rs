//! Layering: defaults < config file < `JTB__SECTION__KEY` environment variables, and turning the
//! `config` crate's errors into one line that names the key.

use std::path::Path;

use super::{ConfigError, DEFAULT_CONFIG_PATH, Settings};

impl Settings {
    /// Loads defaults, then the file, then the environment (`JTB__SECTION__KEY`).
    ///
    /// `explicit` is the `--config` path: it must exist. Without it the packaged path is read
    /// when present.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(explicit, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (tests).
    pub fn load_from(
        explicit: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        match explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::new(
                        "--config",
                        format!("{} does not exist or is not a file", path.display()),
                    ));
                }
                builder = builder.add_source(
                    config::File::from(path)
                        .format(config::FileFormat::Toml)
                        .required(true),
                );
            }
            None => {
                let default = Path::new(DEFAULT_CONFIG_PATH);
                builder = builder.add_source(
                    config::File::from(default)
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        Self::layer_environment(builder, env)
    }

    /// Settings from the text of a config file (TOML) and the environment, layered and
    /// deserialized exactly as [`Settings::load_from`] does with a file (for callers holding the
    /// text, such as the config fuzz target).
    pub fn from_toml_str(
        toml: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let builder = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml));
        Self::layer_environment(builder, env)
    }

    /// Adds `JTB__SECTION__KEY` variables over `builder`'s sources and deserializes the result.
    fn layer_environment(
        mut builder: config::ConfigBuilder<config::builder::DefaultState>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let env_map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("JTB__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("JTB")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("microsoft.service_url_hosts")
                .source(Some(env_map)),
        );
        let raw = builder.build().map_err(describe_config_error)?;
        let settings: Settings = raw.try_deserialize().map_err(describe_config_error)?;
        Ok(settings)
    }
}

/// Turns the `config` crate's errors into one line that names the key.
fn describe_config_error(err: config::ConfigError) -> ConfigError {
    let text = err.to_string();
    let key = match &err {
        config::ConfigError::Type { key: Some(k), .. } => k.clone(),
        config::ConfigError::At { key: Some(k), .. } => k.clone(),
        config::ConfigError::NotFound(k) => k.clone(),
        _ => extract_key(&text).unwrap_or_else(|| "config".into()),
    };
    ConfigError {
        key,
        problem: text.replace('\n', " "),
    }
}

fn extract_key(text: &str) -> Option<String> {
    let start = text.find("for key `")? + "for key `".len();
    let end = text[start..].find('`')? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = Settings::load_from(
            None,
            env(&[
                ("JTB__LISTEN__INTERNAL", "127.0.0.1:9999"),
                ("JTB__DATABASE__POOL_MAX_SIZE", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.internal, "127.0.0.1:9999");
        assert_eq!(s.database.pool_max_size, 3);
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let err = Settings::load_from(None, env(&[("JTB__LISTEN__INTRENAL", "x")])).unwrap_err();
        assert!(err.to_string().contains("intrenal"), "{err}");
    }

    #[test]
    fn the_packaged_example_config_loads_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.example.toml");
        let s = Settings::load_from(Some(&path), env(&[])).unwrap();
        s.validate().unwrap();
        assert_eq!(s.jira.webhook_max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn config_text_is_read_like_a_file_and_unknown_keys_are_named() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let from_text = Settings::from_toml_str(&text, env(&[])).unwrap();
        from_text.validate().unwrap();
        let from_file = Settings::load_from(Some(&path), env(&[])).unwrap();
        assert_eq!(format!("{from_text:?}"), format!("{from_file:?}"));
        let err = Settings::from_toml_str("[listen]\nintrenal = \"x\"", env(&[])).unwrap_err();
        assert!(err.to_string().contains("intrenal"), "{err}");
    }
}
