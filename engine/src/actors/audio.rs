//! Loading a prompt's audio for a call: a prompts-directory file, a `file_url` download, or
//! text to speech. Everything that blocks (disk, decoding, the TTS program) runs on tokio's
//! blocking pool, never on the call's actor thread; downloads are async and bounded in size
//! and time.

use std::sync::Arc;
use std::time::Duration;

use super::egress::AppHttp;
use crate::call::media_actions::{AudioFailure, AudioRequest};
use crate::log_field::Escaped;
use crate::media::{Audio, PromptError, Prompts};

/// The audio for `request`, or a failure for the app's error event. A `file_url` is the app's
/// and passes the egress policy; why a download failed (refused, unreachable, timed out, an
/// HTTP status, too large) goes to the log, the app hears one reason for all.
pub async fn load(
    prompts: Arc<Prompts>,
    http: AppHttp,
    request: AudioRequest,
    download_timeout: Duration,
) -> Result<Audio, AudioFailure> {
    match request {
        AudioRequest::File(name) => {
            let p = prompts.clone();
            let what = format!("file_name {name:?}");
            blocking(move || p.file(&name))
                .await
                .map_err(|e| failure("play_failed", &what, e))
        }
        AudioRequest::Url(url) => {
            if let Some(audio) = prompts.cached_url(&url) {
                return Ok(audio);
            }
            let what = format!("file_url {url}");
            let max = prompts.limits().max_bytes;
            let fetched = match http.check(&url) {
                Ok(()) => download(http.client(), &url, max, download_timeout).await,
                Err(e) => Err(e.to_string()),
            };
            let bytes = fetched.map_err(|reason| {
                tracing::info!(%reason, "file_url not fetched");
                AudioFailure {
                    code: "play_failed",
                    message: format!("{what}: the URL could not be fetched"),
                }
            })?;
            let p = prompts.clone();
            blocking(move || p.decode_url(&url, &bytes))
                .await
                .map_err(|e| failure("play_failed", &what, e))
        }
        AudioRequest::Speak(req) => {
            let p = prompts.clone();
            blocking(move || p.speak(&req)).await.map_err(|e| {
                let code = if matches!(e, PromptError::TtsUnavailable) {
                    "tts_unavailable"
                } else {
                    "speak_failed"
                };
                failure(code, "speak", e)
            })
        }
    }
}

fn failure(code: &'static str, what: &str, e: PromptError) -> AudioFailure {
    // The app is told what went wrong, never where the server keeps its files.
    let message = match &e {
        PromptError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("{what}: no such file in the prompts directory")
        }
        PromptError::Read { .. } => format!("{what}: the file cannot be read"),
        _ => format!("{what}: {e}"),
    };
    tracing::info!(code, error = %Escaped(&e.to_string()), "{what}: prompt not played");
    AudioFailure { code, message }
}

async fn blocking(
    job: impl FnOnce() -> Result<Audio, PromptError> + Send + 'static,
) -> Result<Audio, PromptError> {
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        // The job panicked or the runtime is shutting down: say so rather than hang the call.
        Err(e) => Err(PromptError::TtsIo(std::io::Error::other(e.to_string()))),
    }
}

/// GET `url`, refusing anything but a 2xx and any body past `max` bytes (checked on the
/// declared length and again while reading, for chunked answers).
async fn download(
    http: &reqwest::Client,
    url: &str,
    max: u64,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let fetch = async {
        let mut response = http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                "the download timed out".to_string()
            } else {
                "the URL could not be reached".to_string()
            }
        })?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max) {
            return Err(format!("larger than {max} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| "the download broke off".to_string())?
        {
            if body.len() as u64 + chunk.len() as u64 > max {
                return Err(format!("larger than {max} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| "the download timed out".to_string())?
}
