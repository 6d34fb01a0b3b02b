//! Raw HTTP/1.1 against rekamd's TCP listener, for the tests that must see exactly what
//! goes over the wire (CORS headers, gRPC-Web frames, the console's files): write a
//! request head and body, read the whole response back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// An HTTP/1.1 response read off the wire.
#[derive(Debug)]
pub struct Raw {
    /// The status code.
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    /// Without chunked coding.
    pub body: Vec<u8>,
}

impl Raw {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether any `access-control-*` header came back.
    pub fn has_cors_headers(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.starts_with("access-control-"))
    }

    /// A gRPC-Web body's data frames, and its trailer frame's fields (names in lower case).
    pub fn grpc_web_frames(&self) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
        let (mut data, mut trailers) = (Vec::new(), Vec::new());
        let mut body = &self.body[..];
        while body.len() >= 5 {
            let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
            let payload = &body[5..5 + len];
            if body[0] & 0x80 != 0 {
                let text = String::from_utf8_lossy(payload);
                trailers.extend(
                    text.split("\r\n")
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())),
                );
            } else {
                data.push(payload.to_vec());
            }
            body = &body[5 + len..];
        }
        (data, trailers)
    }

    /// The gRPC status: from the headers (trailers-only) or from the gRPC-Web trailers
    /// frame at the end of the body.
    pub fn grpc_status(&self) -> tonic::Status {
        let mut fields: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("grpc-"))
            .cloned()
            .collect();
        if self.header("grpc-status").is_none() {
            fields.extend(self.grpc_web_frames().1);
        }
        let mut map = http::HeaderMap::new();
        for (n, v) in fields {
            map.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        tonic::Status::from_header_map(&map).expect("a grpc-status")
    }
}

/// Removes HTTP/1.1 chunked transfer coding.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Writes `head` (request line and headers, without the blank line; `Connection: close`
/// is added) and `body`, then reads the response to the end; at most 10 s.
pub async fn request(mut s: impl AsyncRead + AsyncWrite + Unpin, head: &str, body: &[u8]) -> Raw {
    let head = format!("{}\r\nConnection: close\r\n\r\n", head.trim_end());
    s.write_all(head.as_bytes()).await.unwrap();
    // A refusal may be answered, and the connection closed, before the body is read: the
    // body's write then fails (broken pipe) and the answer is still there to read.
    let _ = s.write_all(body).await;
    read_response(s).await
}

/// Reads a response to the end of the connection; at most 10 s. A daemon that answers a
/// refusal before reading the request's body closes with that body unread, and the
/// kernel then ends the connection with a reset instead of an end of file: after an
/// answer has arrived, a reset ends it like an end of file.
pub async fn read_response(mut s: impl AsyncRead + Unpin) -> Raw {
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => {
                    return;
                }
                Err(e) => panic!("reading the response: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the daemon answers within 10 s");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Raw {
        status,
        headers,
        body,
    }
}
