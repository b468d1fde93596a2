use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => match e.downcast::<cli::HasChanges>() {
            Ok(changes) => {
                print!("{}", changes.0);
                ExitCode::from(cli::HasChanges::EXIT)
            }
            Err(e) => {
                // Every error is written for the person at the terminal; none carries a secret.
                eprintln!(
                    "error: {}",
                    operator::redact::redact_text(&format!("{e:#}"))
                );
                ExitCode::from(cli::exit_code(&e))
            }
        },
    }
}
