//! The raw TCP front of [`crate::FakeEcs::start_hostile`]: it passes each request to the
//! wiremock server and each answer back, one request per connection, except where the answer
//! carries [`MARKER`] — then it breaks the answer the way the marker says (a reset mid-body, a
//! truncated body, a stall, a huge chunked body), which wiremock alone cannot do.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The header by which the fake tells the front what to do with an answer.
pub(crate) const MARKER: &str = "x-fake-ecs-raw";
/// A request head larger than this is refused (no client of ours sends one).
const MAX_HEAD: usize = 64 * 1024;

/// The listening front; dropping it stops accepting.
pub(crate) struct Front {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    /// Listens on 127.0.0.1 (a free port) in front of `backend`.
    pub(crate) async fn start(backend: SocketAddr) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the fake's front");
        let address = listener.local_addr().expect("the front's address");
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = serve(client, backend).await;
                });
            }
        });
        Front { address, task }
    }

    pub(crate) fn uri(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// One request: forwarded, and its answer passed back or broken.
async fn serve(mut client: TcpStream, backend: SocketAddr) -> std::io::Result<()> {
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    let mut upstream = TcpStream::connect(backend).await?;
    upstream.write_all(&request).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    let head_end = find(&answer, b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let (head, body) = answer.split_at(head_end);
    let head = String::from_utf8_lossy(head);
    let marker = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case(MARKER)
            .then(|| value.trim().to_string())
    });
    let Some(marker) = marker else {
        return client.write_all(&answer).await;
    };
    let head: String = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with(MARKER))
        .collect();
    let half = &body[..body.len() / 2];
    match marker.split_once(':').unwrap_or((&marker, "")) {
        ("reset", _) => {
            client.write_all(head.as_bytes()).await?;
            client.write_all(half).await?;
            client.flush().await?;
            // SO_LINGER 0: closing sends a reset instead of a clean end (and, with a zero
            // time, never blocks the thread, which is why tokio deprecates the call).
            #[allow(deprecated)]
            client.set_linger(Some(Duration::ZERO))?;
            drop(client);
        }
        ("truncate", _) => {
            client.write_all(head.as_bytes()).await?;
            client.write_all(half).await?;
            client.shutdown().await?;
        }
        ("stall", seconds) => {
            let seconds: f64 = seconds.parse().unwrap_or(60.0);
            let mut probe = [0u8; 1];
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(seconds)) => {
                    client.write_all(head.as_bytes()).await?;
                    client.write_all(body).await?;
                }
                // The client gave up (or sent more, which no client of ours does).
                _ = client.read(&mut probe) => {}
            }
        }
        ("huge", bytes) => {
            let bytes: u64 = bytes.parse().unwrap_or(1 << 30);
            client
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await?;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0u64;
            while sent < bytes {
                let n = chunk.len().min((bytes - sent) as usize);
                client.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                client.write_all(&chunk[..n]).await?;
                client.write_all(b"\r\n").await?;
                sent += n as u64;
            }
            client.write_all(b"0\r\n\r\n").await?;
        }
        _ => client.write_all(&answer).await?,
    }
    Ok(())
}

/// One HTTP/1.1 request (head and Content-Length body), with `Connection: close` so that the
/// server ends the answer by closing; `None` when the client closed first.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buffer, b"\r\n\r\n") {
            break i + 4;
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let mut request: String = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    request.truncate(request.len() - 2);
    request.push_str("connection: close\r\n\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&buffer[head_end..head_end + length]);
    Ok(Some(bytes))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
