//! A PostgreSQL server of a test's own whose tenant logins need their password (SCRAM), unlike the
//! shared test server's trust: for what only a real password check shows. The superuser and the
//! operator's role still log in by trust on loopback, as the shared server's do.

use std::path::PathBuf;
use std::process::Command;

pub struct PasswordServer {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

fn as_postgres(bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

impl PasswordServer {
    /// Starts one (initdb, then pg_ctl start on a free loopback port); stopped when dropped.
    pub fn start() -> PasswordServer {
        let base = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .max()
            .expect("a PostgreSQL version");
        let bin = base.join("bin");
        let dir = std::env::temp_dir().join(format!(
            "openclaw-pgpw-{}",
            crate::unique_name("s").replace('-', "")
        ));
        std::fs::create_dir_all(&dir).expect("server dir");
        let _ = Command::new("chown").arg("postgres:").arg(&dir).status();
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {out:?}");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             host all postgres 127.0.0.1/32 trust\n\
             host all openclaw_operator 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
        let port = crate::process::free_port();
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            dir.display()
        );
        let log = dir.join("postgres.log");
        let out = as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-l",
                log.to_str().expect("utf8"),
                "-w",
                "-t",
                "30",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(out.status.success(), "pg_ctl start: {out:?}");
        PasswordServer { dir, bin, port }
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every session is ended, as in a failover.
    pub fn restart(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("postgres.log");
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-l",
                log.to_str().expect("utf8"),
                "-w",
                "-t",
                "30",
                "-m",
                "fast",
                "-o",
                &opts,
                "restart",
            ],
        );
        assert!(out.status.success(), "pg_ctl restart: {out:?}");
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PasswordServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
