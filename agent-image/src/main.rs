//! The OpenClaw agent binary (Butler, Scout, Strategist). Not built yet: it refuses to start
//! rather than pretend to work. See the agent-image issue.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "openclaw-agent: the agent runtime is not implemented yet; \
         this binary only reserves the crate (kinds: {})",
        crds::api::AgentKind::ALL.map(|k| k.as_str()).join(", ")
    );
    ExitCode::from(2)
}
