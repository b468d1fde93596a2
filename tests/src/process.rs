//! Running the `openclaw` binary as a process in tests, and reading its HTTP endpoints.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Harness;

/// `target/debug/openclaw`, next to this test's own executable (tests/run builds it).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = dir.join("openclaw");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --bins` (tests/run does)",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub struct Operator {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

/// A configuration file for the harness's cell and databases, with `listen` on `port`.
fn config_file(h: &Harness, port: u16, extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openclaw-op-{}", h.db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg_path = dir.join(format!("config-{port}.yaml"));
    let stack = std::env::var("OPENCLAW_CONFIG")
        .unwrap_or_else(|_| format!("{}/../.local/openclaw.yaml", env!("CARGO_MANIFEST_DIR")));
    // The harness's own cell name, so orphan scans never see another test's resources.
    let mut cell = std::fs::read_to_string(stack)
        .expect("stack config")
        .replace("  name: local\n", &format!("  name: {}\n", h.cell().name));
    // The harness's endpoint (a fault proxy in front of the emulator, when it has one).
    if let Some(ep) = &h.cell().aws_endpoint_url {
        cell = cell
            .lines()
            .map(|l| match l.split_once("aws_endpoint_url:") {
                Some((indent, _)) => format!("{indent}aws_endpoint_url: {ep}"),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    // The tests' operator knobs, each unless `extra` sets it.
    let defaults: String = [
        "lease_seconds: 3",
        "poll_interval_seconds: 1",
        "concurrency: 2",
    ]
    .iter()
    .filter(|kv| {
        let key = kv.split(':').next().unwrap_or_default();
        !extra
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{key}:")))
    })
    .map(|kv| format!("  {kv}\n"))
    .collect();
    std::fs::write(
        &cfg_path,
        format!("{cell}\noperator:\n  listen: 127.0.0.1:{port}\n{defaults}{extra}"),
    )
    .expect("write config");
    cfg_path
}

/// Runs `openclaw ARGS` against the harness's databases and cell, to completion.
pub fn cli(h: &Harness, args: &[&str]) -> std::process::Output {
    cli_command(h, args).output().expect("run openclaw")
}

fn cli_command(h: &Harness, args: &[&str]) -> Command {
    let cfg_path = config_file(h, free_port(), "");
    let mut c = Command::new(binary());
    c.arg("--config")
        .arg(&cfg_path)
        .args(args)
        .env("DATABASE_URL", &h.db.url)
        .env("TENANT_DATABASE_URL", &h.db.tenant_url);
    c
}

impl Operator {
    pub fn spawn(h: &Harness, extra: &str) -> Operator {
        Operator::spawn_env(h, extra, &[])
    }

    /// As [`Operator::spawn`], with more environment.
    pub fn spawn_env(h: &Harness, extra: &str, env: &[(&str, &str)]) -> Operator {
        Operator::spawn_at(h, free_port(), extra, env)
    }

    /// As [`Operator::spawn_env`], serving `/metrics` on 127.0.0.1:`port`.
    pub fn spawn_at(h: &Harness, port: u16, extra: &str, env: &[(&str, &str)]) -> Operator {
        let cfg_path = config_file(h, port, extra);
        let dir = cfg_path.parent().expect("dir").to_owned();
        let log = dir.join(format!("operator-{port}.log"));
        let child = Command::new(binary())
            .args(["--config", cfg_path.to_str().expect("utf8"), "operator"])
            .env("DATABASE_URL", &h.db.url)
            .env("TENANT_DATABASE_URL", &h.db.tenant_url)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn operator");
        Operator { child, port, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
    }

    /// SIGTERM, then waits (at most 30 s) for the exit without blocking the test's runtime
    /// (a local receiver the process talks to while stopping may run on it).
    pub async fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.sigterm();
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

pub async fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, body) = http_get(port, "/metrics").await?;
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Starts `openclaw ARGS` against the harness's databases and cell, its standard output piped
/// (for commands that run until stopped, such as `get -w`).
pub fn cli_spawn(h: &Harness, args: &[&str]) -> Child {
    cli_command(h, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openclaw")
}
