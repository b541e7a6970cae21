//! The one list of commands the bot understands (`web::bot::commands` dispatches them): name,
//! argument hint, what it does and the scopes where it is offered. `help` and the Teams
//! manifest's `bots[0].commandLists` (PROTOCOLS.md §6.5) are both made from it, so a command
//! cannot be added to one and forgotten in the other. Pure.

/// A scope of the Teams app, as the manifest spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The 1:1 chat with the bot.
    Personal,
    /// A group chat (also a meeting chat).
    GroupChat,
    /// A channel of a team.
    Team,
}

impl Scope {
    /// Every scope, in the order the manifest lists them.
    pub const ALL: [Scope; 3] = [Scope::Personal, Scope::GroupChat, Scope::Team];

    /// The manifest's name of the scope (`groupChat`, never `groupchat`).
    pub fn manifest_name(self) -> &'static str {
        match self {
            Scope::Personal => "personal",
            Scope::GroupChat => "groupChat",
            Scope::Team => "team",
        }
    }

    /// The scope of a `web::bot::context::TeamsContext::scope` (`personal`, `team` or
    /// `groupChat`); anything else is a group chat, as `Activity::scope` decides.
    pub fn of_context(scope: &str) -> Scope {
        match scope {
            "personal" => Scope::Personal,
            "team" => Scope::Team,
            _ => Scope::GroupChat,
        }
    }
}

/// One command.
#[derive(Debug, Clone, Copy)]
pub struct BotCommand {
    /// The word that starts it (lower case); also the manifest's `title` (≤ 32 characters).
    pub name: &'static str,
    /// What follows the name, as `help` and the manifest show it (empty: nothing).
    pub args: &'static str,
    /// What it does, one sentence starting with a capital, without a final full stop.
    pub description: &'static str,
    /// Where it is offered.
    pub scopes: &'static [Scope],
}

const EVERYWHERE: &[Scope] = &Scope::ALL;

/// Every command, in the order `help` and the manifest list them.
pub const COMMANDS: &[BotCommand] = &[
    BotCommand {
        name: "help",
        args: "",
        description: "What I can do",
        scopes: EVERYWHERE,
    },
    BotCommand {
        name: "link",
        args: "[instance]",
        description: "Link your Jira account so that I can act as you in Jira",
        scopes: EVERYWHERE,
    },
    BotCommand {
        name: "unlink",
        args: "[instance|all]",
        description: "Remove that link and the tokens I keep for you",
        scopes: &[Scope::Personal],
    },
    BotCommand {
        name: "create",
        args: "<summary>",
        description: "Create a Jira issue (I ask for project and type)",
        scopes: EVERYWHERE,
    },
    BotCommand {
        name: "find",
        args: "<text or key>",
        description: "Search Jira issues you can see",
        scopes: EVERYWHERE,
    },
    BotCommand {
        name: "attach",
        args: "<KEY> [instance]",
        description: "Link this group chat to a Jira issue: its updates appear here",
        scopes: &[Scope::GroupChat],
    },
    BotCommand {
        name: "detach",
        args: "<KEY> [instance]",
        description: "Unlink this group chat from a Jira issue",
        scopes: &[Scope::GroupChat],
    },
    BotCommand {
        name: "subscribe",
        args: "<PROJECT> [events] [JQL]",
        description: "Post a project's events in this channel",
        scopes: &[Scope::Team],
    },
    BotCommand {
        name: "unsubscribe",
        args: "<PROJECT>",
        description: "Stop a project's events in this channel",
        scopes: &[Scope::Team],
    },
    BotCommand {
        name: "notifications",
        args: "[on|off] [kind]",
        description: "Your personal notifications (assignee, reporter, watcher, mention)",
        scopes: &[Scope::Personal],
    },
];

impl BotCommand {
    /// The manifest's `description` (≤ 128 characters): what it does and how it is typed.
    pub fn manifest_description(&self) -> String {
        if self.args.is_empty() {
            self.description.to_owned()
        } else {
            format!("{}: {} {}", self.description, self.name, self.args)
        }
    }

    /// Whether it is offered in `scope`.
    pub fn offered_in(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// What `help` answers in `scope`: the commands offered there, one markdown line each.
pub fn help(scope: Scope) -> String {
    let mut out = String::from("Here is what I can do here:\n\n");
    for c in COMMANDS.iter().filter(|c| c.offered_in(scope)) {
        // a code span keeps `<KEY>` and `[on|off]` literal in Teams' markdown
        let args = if c.args.is_empty() {
            String::new()
        } else {
            format!(" `{}`", c.args)
        };
        out.push_str(&format!("- **{}**{args}: {}\n", c.name, c.description));
    }
    let elsewhere: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| !c.offered_in(scope))
        .map(|c| c.name)
        .collect();
    if !elsewhere.is_empty() {
        out.push_str(&format!(
            "\nElsewhere: {} (in a chat with me, a group chat or a channel).",
            elsewhere.join(", ")
        ));
    }
    out
}

/// The manifest's command lists: one per scope, each with the commands offered there as
/// `(title, description)`.
pub fn command_lists() -> Vec<(Scope, Vec<(&'static str, String)>)> {
    Scope::ALL
        .iter()
        .map(|&s| {
            (
                s,
                COMMANDS
                    .iter()
                    .filter(|c| c.offered_in(s))
                    .map(|c| (c.name, c.manifest_description()))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_fits_the_manifest_and_is_offered_somewhere() {
        for c in COMMANDS {
            assert!(!c.scopes.is_empty(), "{} is offered nowhere", c.name);
            assert!(c.name.chars().count() <= 32, "{}", c.name);
            assert!(
                c.manifest_description().chars().count() <= 128,
                "{}: {}",
                c.name,
                c.manifest_description()
            );
            assert_eq!(c.name, c.name.to_lowercase());
        }
        let lists = command_lists();
        assert!(lists.len() <= 3);
        for (_, cmds) in &lists {
            assert!(!cmds.is_empty() && cmds.len() <= 10);
        }
    }

    #[test]
    fn help_lists_what_the_scope_offers_and_names_the_rest() {
        let group = help(Scope::GroupChat);
        assert!(group.contains("- **attach** `<KEY> [instance]`: Link this group chat"));
        assert!(group.contains("- **detach**"));
        assert!(!group.contains("- **subscribe**"));
        assert!(group.contains("Elsewhere: unlink, subscribe, unsubscribe, notifications"));
        let personal = help(Scope::Personal);
        assert!(personal.contains("- **notifications** `[on|off] [kind]`"));
        assert!(!personal.contains("- **attach**"));
        let team = help(Scope::Team);
        assert!(team.contains("- **subscribe** `<PROJECT> [events] [JQL]`"));
    }

    #[test]
    fn the_readme_table_lists_every_command_with_its_arguments_description_and_scopes() {
        let readme = include_str!("../../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| **")).collect();
        let word = |s: Scope| match s {
            Scope::Personal => "1:1 chat",
            Scope::GroupChat => "group chat",
            Scope::Team => "channel",
        };
        for c in COMMANDS {
            let row = rows
                .iter()
                .find(|r| r.starts_with(&format!("| **{}** |", c.name)))
                .unwrap_or_else(|| panic!("README has no row for {}", c.name));
            // cells between the pipes; `\|` is a pipe inside a cell
            let cells: Vec<String> = row
                .replace("\\|", "\u{1}")
                .split('|')
                .skip(1)
                .map(|x| {
                    x.trim()
                        .replace('\u{1}', "|")
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                })
                .collect();
            assert_eq!(cells[0], format!("**{}**", c.name), "{row}");
            assert_eq!(cells[1], c.args, "{row}");
            assert_eq!(cells[2], c.description, "{row}");
            for s in Scope::ALL {
                assert_eq!(
                    cells[3].contains(word(s)),
                    c.offered_in(s),
                    "{}: {} in {row}",
                    c.name,
                    word(s)
                );
            }
        }
        assert_eq!(rows.len(), COMMANDS.len(), "a README row for no command");
    }
}
