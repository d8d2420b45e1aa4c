//! Recorded calls on disk: `<recordings root>/<appid>/<recording id>.wav` (or `.mp3`), written
//! by the media task's recorder thread; listed, found and deleted here for the admin API.
//!
//! A recording id is `<cmiuuid>-<n>`: letters, digits and `-` only, so an id taken from a URL
//! can never name a path outside the root. The files are the record: nothing else is stored,
//! so a file deleted by hand simply stops being listed. All methods block (disk I/O).

pub mod audio_info;
pub mod retention;

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::store::AppId;

/// The longest id accepted (a cmiuuid is 36 characters).
const MAX_ID: usize = 80;

/// The file name extensions of recordings, and their MIME types.
const FORMATS: [(&str, &str); 2] = [("wav", "audio/wav"), ("mp3", "audio/mpeg")];

/// One recording file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFile {
    pub id: String,
    pub app: AppId,
    pub path: PathBuf,
    pub bytes: u64,
    /// When the file was last written, Unix milliseconds.
    pub modified_ms: u64,
}

impl RecordingFile {
    /// `wav` or `mp3`, from the file name.
    pub fn format(&self) -> &'static str {
        let ext = self.path.extension().and_then(|e| e.to_str());
        FORMATS
            .iter()
            .find(|(e, _)| Some(*e) == ext)
            .map_or("wav", |(e, _)| e)
    }

    /// The MIME type to serve it with.
    pub fn mime(&self) -> &'static str {
        let format = self.format();
        FORMATS
            .iter()
            .find(|(e, _)| *e == format)
            .map_or("audio/wav", |(_, m)| m)
    }

    /// Channels and duration, read from the file's headers (blocking).
    pub fn audio_info(&self) -> Option<audio_info::AudioInfo> {
        audio_info::read(&self.path)
    }
}

/// The recordings root.
#[derive(Debug, Clone)]
pub struct Recordings {
    root: PathBuf,
}

/// Whether `id` can be a recording id.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Recordings {
    pub fn new(root: impl Into<PathBuf>) -> Recordings {
        Recordings { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The recording `id`, if its file exists.
    pub fn find(&self, id: &str) -> std::io::Result<Option<RecordingFile>> {
        if !valid_id(id) {
            return Ok(None);
        }
        for app in self.app_dirs()? {
            for (ext, _) in FORMATS {
                let path = self
                    .root
                    .join(app.0.to_string())
                    .join(format!("{id}.{ext}"));
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => return Ok(Some(file(id, app, path, &meta))),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// Every recording (of one app), newest first.
    pub fn list(&self, only: Option<AppId>) -> std::io::Result<Vec<RecordingFile>> {
        let mut out = Vec::new();
        for app in self.app_dirs()? {
            if only.is_some_and(|o| o != app) {
                continue;
            }
            for entry in std::fs::read_dir(self.root.join(app.0.to_string()))? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(id) = name.to_str().and_then(|n| {
                    let (id, ext) = n.rsplit_once('.')?;
                    FORMATS.iter().any(|(e, _)| *e == ext).then_some(id)
                }) else {
                    continue;
                };
                let meta = entry.metadata()?;
                if valid_id(id) && meta.is_file() {
                    out.push(file(id, app, entry.path(), &meta));
                }
            }
        }
        out.sort_by(|a, b| b.modified_ms.cmp(&a.modified_ms).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Deletes the recording; `false` if there was none.
    pub fn delete(&self, id: &str) -> std::io::Result<bool> {
        match self.find(id)? {
            Some(f) => {
                std::fs::remove_file(&f.path)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The app directories (named by app id) under the root.
    fn app_dirs(&self) -> std::io::Result<Vec<AppId>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut apps = Vec::new();
        for entry in entries {
            let entry = entry?;
            if let Some(app) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                if entry.file_type()?.is_dir() {
                    apps.push(AppId(app));
                }
            }
        }
        apps.sort();
        Ok(apps)
    }
}

fn file(id: &str, app: AppId, path: PathBuf, meta: &std::fs::Metadata) -> RecordingFile {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    RecordingFile {
        id: id.to_string(),
        app,
        path,
        bytes: meta.len(),
        modified_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_the_root() {
        assert!(valid_id("0b6c1f2e-1d2c-4c8e-9d4e-1234567890ab-1"));
        for bad in ["", "../x", "a/b", "a.wav", "a b", "..", &"x".repeat(81)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn find_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recordings::new(dir.path());
        assert!(r.list(None).unwrap().is_empty(), "no root yet");
        for (app, id, ext) in [(7, "c1-1", "wav"), (7, "c1-2", "mp3"), (9, "c2-1", "wav")] {
            let d = dir.path().join(app.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{id}.{ext}")), b"RIFF").unwrap();
        }
        std::fs::write(dir.path().join("7").join("notes.txt"), b"x").unwrap();
        std::fs::create_dir_all(dir.path().join("not-an-app")).unwrap();
        assert_eq!(r.list(None).unwrap().len(), 3);
        let only7: Vec<String> = r
            .list(Some(AppId(7)))
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(only7.len(), 2);
        let f = r.find("c2-1").unwrap().unwrap();
        assert_eq!((f.app, f.bytes), (AppId(9), 4));
        assert_eq!(r.find("../7/c1-1").unwrap(), None);
        let mp3 = r.find("c1-2").unwrap().unwrap();
        assert_eq!((mp3.format(), mp3.mime()), ("mp3", "audio/mpeg"));
        assert_eq!((f.format(), f.mime()), ("wav", "audio/wav"));
        assert!(r.delete("c1-1").unwrap());
        assert!(!r.delete("c1-1").unwrap());
        assert_eq!(r.find("c1-1").unwrap(), None);
    }
}
