//! The HTTP side of asking an owner node for a file: one request with a node token and the
//! caller's range headers, its answer checked, its body read piece by piece with a timeout on
//! each piece (and, for a whole segment, checked against its logged SHA-256 before its last
//! piece is let through), and a copy to disk hashed as it is written.

use std::path::Path;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{PeerError, PeerSettings, Peers, RemoteFile};
use crate::store::query::NodeRecord;

/// The request headers passed on to the owner: ranges and their conditions.
const PASSED_ON: [&str; 5] = [
    "range",
    "if-range",
    "if-modified-since",
    "if-unmodified-since",
    "if-none-match",
];

/// The answers of the owner that are passed back as they are.
const PASSED_BACK: [StatusCode; 4] = [
    StatusCode::OK,
    StatusCode::PARTIAL_CONTENT,
    StatusCode::NOT_MODIFIED,
    StatusCode::RANGE_NOT_SATISFIABLE,
];

/// The client every peer is asked with: no proxy (nodes talk directly), connect and read
/// timeouts.
pub(super) fn http(settings: &PeerSettings) -> Result<reqwest::Client, PeerError> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(settings.answer_timeout)
        .read_timeout(settings.answer_timeout)
        .build()
        .map_err(|e| PeerError::Client(e.to_string()))
}

/// The owner's detail of a refusal: its JSON error's `detail`, else its body's start.
async fn detail_of(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

impl Peers {
    /// `file` from its owner `node`, asked with a fresh node token and the range headers of
    /// `request` (when given). The answer is one of 200, 206, 304 and 416, its body unread;
    /// anything else is an error naming the node.
    pub async fn get(
        &self,
        node: &NodeRecord,
        file: RemoteFile,
        request: Option<&HeaderMap>,
    ) -> Result<reqwest::Response, PeerError> {
        let token = self.token().await?;
        let url = format!("{}{}", node.api_url.trim_end_matches('/'), file.route());
        let mut builder = self
            .http
            .get(&url)
            .header(AUTHORIZATION, format!("Node {token}"));
        for name in PASSED_ON {
            if let Some(v) = request.and_then(|h| h.get(name)) {
                builder = builder.header(name, v.clone());
            }
        }
        let down = |why: String| PeerError::NotAnswering {
            file,
            node: node.name.clone(),
            url: node.api_url.clone(),
            why,
        };
        let response =
            match tokio::time::timeout(self.settings.answer_timeout, builder.send()).await {
                Err(_) => {
                    return Err(down(format!(
                        "no answer in {} s",
                        self.settings.answer_timeout.as_secs_f64()
                    )))
                }
                Ok(Err(e)) => return Err(down(error_chain(&e))),
                Ok(Ok(r)) => r,
            };
        let status = response.status();
        if PASSED_BACK.contains(&status) {
            return Ok(response);
        }
        Err(PeerError::Refused {
            file,
            node: node.name.clone(),
            url: node.api_url.clone(),
            status: status.as_u16(),
            detail: detail_of(response).await,
        })
    }

    /// The body of an answer of `node` as a stream; a piece that does not come in time, or a
    /// connection that breaks, ends it with an error (so whoever relays it is cut short,
    /// never completed).
    pub fn body(
        &self,
        node: &NodeRecord,
        file: RemoteFile,
        response: reqwest::Response,
    ) -> impl Stream<Item = Result<Bytes, PeerError>> + Send + Unpin + 'static {
        let timeout = self.settings.answer_timeout;
        let (name, url) = (node.name.clone(), node.api_url.clone());
        Box::pin(futures_util::stream::unfold(Some(response), move |state| {
            let (name, url) = (name.clone(), url.clone());
            async move {
                let mut response = state?;
                let cut = |why: String| PeerError::NotAnswering {
                    file,
                    node: name,
                    url,
                    why: format!("stopped while sending: {why}"),
                };
                match tokio::time::timeout(timeout, response.chunk()).await {
                    Ok(Ok(Some(bytes))) => Some((Ok(bytes), Some(response))),
                    Ok(Ok(None)) => None,
                    Ok(Err(e)) => Some((Err(cut(error_chain(&e))), None)),
                    Err(_) => Some((
                        Err(cut(format!("nothing for {} s", timeout.as_secs_f64()))),
                        None,
                    )),
                }
            }
        }))
    }

    /// The body of a whole-file answer of `node`, checked against the SHA-256 the log holds
    /// for it: the last piece is held back until the whole has been hashed, and a body that
    /// differs ends with an error instead (so whoever relays it is cut short and never has
    /// the whole of a file that is not the logged one).
    pub fn checked_body(
        &self,
        node: &NodeRecord,
        file: RemoteFile,
        response: reqwest::Response,
        expected_sha256: String,
    ) -> impl Stream<Item = Result<Bytes, PeerError>> + Send + 'static {
        use futures_util::StreamExt;
        struct State<S> {
            body: S,
            hasher: Sha256,
            held: Option<Bytes>,
        }
        let start = State {
            body: self.body(node, file, response),
            hasher: Sha256::new(),
            held: None,
        };
        let node = node.name.clone();
        futures_util::stream::unfold(Some(start), move |state| {
            let (node, expected) = (node.clone(), expected_sha256.clone());
            async move {
                let mut s = state?;
                loop {
                    match s.body.next().await {
                        Some(Ok(piece)) => {
                            s.hasher.update(&piece);
                            if let Some(before) = s.held.replace(piece) {
                                return Some((Ok(before), Some(s)));
                            }
                        }
                        Some(Err(e)) => return Some((Err(e), None)),
                        None => {
                            let actual = hex(&std::mem::take(&mut s.hasher).finalize());
                            if expected.eq_ignore_ascii_case(&actual) {
                                return s.held.take().map(|last| (Ok(last), None));
                            }
                            let e = PeerError::Mismatch {
                                file,
                                node,
                                expected,
                                actual,
                            };
                            tracing::warn!("{e}; the download was cut");
                            return Some((Err(e), None));
                        }
                    }
                }
            }
        })
    }

    /// Copies `file` of `node` to `dest` (a new file) and returns its size and SHA-256. When
    /// `expected_sha256` is given and the copy differs, the copy is removed and that is an
    /// error naming the node and the file; so is an answer cut short.
    pub async fn copy(
        &self,
        node: &NodeRecord,
        file: RemoteFile,
        dest: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<(u64, String), PeerError> {
        let result = self.copy_to(node, file, dest, expected_sha256).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(dest).await;
        }
        result
    }

    async fn copy_to(
        &self,
        node: &NodeRecord,
        file: RemoteFile,
        dest: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<(u64, String), PeerError> {
        use futures_util::StreamExt;
        let response = self.get(node, file, None).await?;
        if response.status() != StatusCode::OK {
            return Err(PeerError::Refused {
                file,
                node: node.name.clone(),
                url: node.api_url.clone(),
                status: response.status().as_u16(),
                detail: "not the whole file".into(),
            });
        }
        let io = |what: &str| {
            let what = format!("{what} {} (copy of {file})", dest.display());
            move |source| PeerError::Io { what, source }
        };
        let mut out = tokio::fs::File::create_new(dest)
            .await
            .map_err(io("creating"))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let body = self.body(node, file, response);
        futures_util::pin_mut!(body);
        while let Some(piece) = body.next().await {
            let piece = piece?;
            hasher.update(&piece);
            bytes += piece.len() as u64;
            out.write_all(&piece).await.map_err(io("writing"))?;
        }
        out.flush().await.map_err(io("writing"))?;
        let actual = hex(&hasher.finalize());
        if let Some(expected) = expected_sha256 {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(PeerError::Mismatch {
                    file,
                    node: node.name.clone(),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        Ok((bytes, actual))
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An error with its causes (reqwest's own message alone says little: "error sending
/// request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
