//! Schemas of the JSON settings the Jira app stores: instance settings by name and JSM portal
//! app settings. Unknown names and unknown fields are refused.

use serde::{Deserialize, Serialize};

/// Where the Jira app shows its panel (seed: `issueContent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ViewLocation {
    IssueContent,
    IssueSidebar,
    IssueActivity,
}

/// The `appearance` instance setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Appearance {
    pub view_location: ViewLocation,
    pub quick_create_enabled: bool,
}

impl Default for Appearance {
    fn default() -> Self {
        Appearance {
            view_location: ViewLocation::IssueContent,
            quick_create_enabled: false,
        }
    }
}

/// Instance setting names the appliance knows.
pub const KNOWN_SETTINGS: &[&str] = &["appearance"];

/// Validates a value for a known setting name, returning it normalised, or why not.
pub fn validate_setting(
    name: &str,
    value: &serde_json::Value,
) -> Result<serde_json::Value, SettingError> {
    match name {
        "appearance" => {
            let parsed: Appearance = serde_json::from_value(value.clone())
                .map_err(|e| SettingError::Invalid(e.to_string()))?;
            serde_json::to_value(parsed).map_err(|e| SettingError::Invalid(e.to_string()))
        }
        _ => Err(SettingError::Unknown),
    }
}

/// The default of a known setting.
pub fn default_setting(name: &str) -> Option<serde_json::Value> {
    match name {
        "appearance" => serde_json::to_value(Appearance::default()).ok(),
        _ => None,
    }
}

/// Why a setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting name")]
    Unknown,
    #[error("{0}")]
    Invalid(String),
}

/// Settings of a JSM portal app (seed: `{"icon": "icon3", "deskIds": ["14"], "tabName": "Helpdesk"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalAppSettings {
    pub icon: String,
    pub desk_ids: Vec<String>,
    pub tab_name: String,
}

/// Most service desks one portal app may show.
pub const MAX_DESKS: usize = 50;
/// Longest tab name.
pub const MAX_TAB_NAME: usize = 30;

impl PortalAppSettings {
    /// Parses and checks a settings document.
    pub fn parse(value: &serde_json::Value) -> Result<PortalAppSettings, String> {
        let s: PortalAppSettings =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let icon_ok = s
            .icon
            .strip_prefix("icon")
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
        if !icon_ok {
            return Err("icon must be one of the app's icons: icon1 … icon99".into());
        }
        if s.desk_ids.is_empty() || s.desk_ids.len() > MAX_DESKS {
            return Err(format!(
                "deskIds must list 1 to {MAX_DESKS} service desk ids"
            ));
        }
        for d in &s.desk_ids {
            if d.is_empty() || d.len() > 10 || !d.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "deskIds entries are numeric service desk ids; `{d}` is not"
                ));
            }
        }
        let mut unique = s.desk_ids.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != s.desk_ids.len() {
            return Err("deskIds must not repeat an id".into());
        }
        let tab = s.tab_name.trim();
        if tab.is_empty() || tab.chars().count() > MAX_TAB_NAME || tab.chars().any(char::is_control)
        {
            return Err(format!(
                "tabName must be 1 to {MAX_TAB_NAME} printable characters"
            ));
        }
        Ok(PortalAppSettings {
            tab_name: tab.to_owned(),
            ..s
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_values_validate() {
        let v = json!({"viewLocation": "issueContent", "quickCreateEnabled": false});
        assert_eq!(validate_setting("appearance", &v).unwrap(), v);
        assert!(
            PortalAppSettings::parse(
                &json!({"icon": "icon3", "deskIds": ["14"], "tabName": "Helpdesk"})
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(
            validate_setting("colour", &json!({})),
            Err(SettingError::Unknown)
        );
        assert!(
            validate_setting(
                "appearance",
                &json!({"viewLocation": "moon", "quickCreateEnabled": false})
            )
            .is_err()
        );
        assert!(
            validate_setting(
                "appearance",
                &json!({"viewLocation": "issueContent", "quickCreateEnabled": false, "x": 1})
            )
            .is_err()
        );
        for bad in [
            json!({"icon": "skull", "deskIds": ["14"], "tabName": "Helpdesk"}),
            json!({"icon": "icon3", "deskIds": [], "tabName": "Helpdesk"}),
            json!({"icon": "icon3", "deskIds": ["abc"], "tabName": "Helpdesk"}),
            json!({"icon": "icon3", "deskIds": ["14", "14"], "tabName": "Helpdesk"}),
            json!({"icon": "icon3", "deskIds": ["14"], "tabName": ""}),
            json!({"icon": "icon3", "deskIds": ["14"], "tabName": "x".repeat(31)}),
            json!({"icon": "icon3", "deskIds": ["14"]}),
        ] {
            assert!(PortalAppSettings::parse(&bad).is_err(), "{bad}");
        }
    }
}
