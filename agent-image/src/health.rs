//! The container health check: a plain HTTP endpoint on the loopback address, and the
//! `openclaw-agent healthcheck` command that ECS runs against it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers `200 ok` while `healthy`, else `503`.
pub async fn serve(addr: SocketAddr, healthy: Arc<AtomicBool>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (mut sock, _) = listener.accept().await?;
        let healthy = healthy.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let _ = sock.read(&mut buf).await;
            let reply: &[u8] = if healthy.load(Ordering::Relaxed) {
                b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
            } else {
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nstarting\n"
            };
            let _ = sock.write_all(reply).await;
        });
    }
}

/// Exit status for the ECS health check command.
pub async fn check(addr: SocketAddr) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await.is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out.starts_with("HTTP/1.0 200")
}
