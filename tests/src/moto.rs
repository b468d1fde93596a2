//! A private AWS emulator for tests that need one to themselves: IAM enforcement switched on,
//! or an account with nothing of other tests in it. Started from the local stack's pinned venv,
//! bootstrapped with deploy/local/bootstrap.sh, stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::process::free_port;

pub struct PrivateMoto {
    child: Child,
    pub endpoint: String,
    pub config: PathBuf,
    dir: PathBuf,
}

fn venv() -> PathBuf {
    std::env::var("OPENCLAW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                });
            cache.join("openclaw/venv-moto-5.2.5")
        })
}

impl PrivateMoto {
    /// Starts moto on a free port and bootstraps the cell's shared resources in it.
    pub async fn start() -> PrivateMoto {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("openclaw-moto-{port}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let child = Command::new(venv().join("bin/python"))
            .arg(root.join("deploy/local/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ECS_SERVICE_RUNNING", "10")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("moto.log")).expect("log"))
            .spawn()
            .expect("start moto_server (is the venv installed? run deploy/local/up.sh)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Some((200, _)) = crate::process::http_get(port, "/moto-api/").await {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ready, "private moto did not start");
        let config = dir.join("openclaw.yaml");
        let out = Command::new("bash")
            .arg(root.join("deploy/local/bootstrap.sh"))
            .arg(&config)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("MOTO_PORT", port.to_string())
            .env("OPENCLAW_STATE_DIR", &dir)
            .output()
            .expect("bootstrap");
        assert!(
            out.status.success(),
            "bootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PrivateMoto {
            child,
            endpoint,
            config,
            dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// The cell configuration the bootstrap wrote.
    pub fn cell_config(&self) -> operator::config::Config {
        operator::config::Config::load(Some(&self.config)).expect("private cell config")
    }

    /// Switches moto's IAM enforcement on (`true`) or off.
    pub async fn enforce(&self, on: bool) {
        let body = if on { "0" } else { "inf" };
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port()))
            .await
            .expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!(
            "POST /moto-api/reset-auth HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        assert!(
            out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
            "reset-auth: {out}"
        );
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
