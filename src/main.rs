//! Entry point: parse the command line, load and validate settings (exit 2 on a bad value),
//! start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use jira_teams_bridge::cli::{Cli, Command};
use jira_teams_bridge::config::Settings;
use jira_teams_bridge::startup::Application;
use jira_teams_bridge::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = jira_teams_bridge::cli::rerun_as_service_user(&cli) {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let settings =
        match Settings::load(cli.config.as_deref()).and_then(|s| s.validate().map(|()| s)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
    telemetry::init(&settings.log.level, &settings.log.format);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await?;

            app.run_until_stopped().await.map_err(anyhow::Error::from)
        }),
        Command::Doctor { json } => {
            let checks = actix_web::rt::System::new()
                .block_on(jira_teams_bridge::jobs::doctor::run(&settings));
            if json {
                let ok = checks
                    .iter()
                    .all(|c| c.status != jira_teams_bridge::jobs::doctor::Status::Fail);
                println!("{}", serde_json::json!({ "ok": ok, "checks": checks }));
            } else {
                print!("{}", jira_teams_bridge::jobs::doctor::render_text(&checks));
            }
            if checks
                .iter()
                .any(|c| c.status == jira_teams_bridge::jobs::doctor::Status::Fail)
            {
                return ExitCode::FAILURE;
            }
            Ok(())
        }
        other => jira_teams_bridge::cli::run(other, &settings, &mut std::io::stdout()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(status) = e.downcast_ref::<jira_teams_bridge::cli::ExitStatus>() {
                eprintln!("{}", status.message);
                return ExitCode::from(status.code);
            }
            tracing::error!(error = %format!("{e:#}"), "failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
