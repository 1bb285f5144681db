//! The AWS CLI's SSO cache directory, `~/.aws/sso/cache`: token files
//! named by the SHA-1 of the session name (or of the start URL for legacy
//! profiles) and client registrations named by the SHA-1 of botocore's
//! JSON of their arguments. Files are written atomically, mode 0600.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha1::{Digest, Sha1};
use tracing::debug;

use crate::SsoProfile;
use crate::error::CacheError;
use crate::token::{CachedToken, Registration};

/// The cache file stem of `profile`'s token: hex SHA-1 of the session
/// name, or of the start URL for a legacy profile.
pub fn token_cache_key(profile: &SsoProfile) -> String {
    hex::encode(Sha1::digest(profile.cache_identifier().as_bytes()))
}

/// The cache file stem of a client registration, exactly as the AWS CLI
/// v2 names it: the SHA-1 of Python's `json.dumps(args, sort_keys=True)`
/// over tool, startUrl, region, scopes and session_name.
pub fn registration_cache_key(profile: &SsoProfile, scopes: &[String]) -> String {
    let text = format!(
        "{{\"region\": {}, \"scopes\": {}, \"session_name\": {}, \"startUrl\": {}, \"tool\": \"botocore\"}}",
        python_json(&profile.region),
        python_json_list(scopes),
        profile
            .session_name
            .as_deref()
            .map_or_else(|| "null".to_owned(), python_json),
        python_json(&profile.start_url),
    );
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// A string as Python's `json.dumps` writes it (ASCII only, `\uXXXX`
/// escapes for everything else).
fn python_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for unit in text.encode_utf16() {
        match unit {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(u8::try_from(unit).unwrap_or(b'?'))),
            other => out.push_str(&format!("\\u{other:04x}")),
        }
    }
    out.push('"');
    out
}

fn python_json_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|item| python_json(item)).collect();
    format!("[{}]", items.join(", "))
}

/// The cache directory and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    /// A cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `~/.aws/sso/cache`, with the home directory found as the SDKs find
    /// it (HOME, else USERPROFILE, else HOMEDRIVE and HOMEPATH).
    pub fn from_env() -> Result<Self, CacheError> {
        let home = home_dir().ok_or(CacheError::NoHome)?;
        Ok(Self::new(home.join(".aws").join("sso").join("cache")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `profile`'s token lives.
    pub fn token_path(&self, profile: &SsoProfile) -> PathBuf {
        self.dir.join(format!("{}.json", token_cache_key(profile)))
    }

    /// `profile`'s cached token, if there is one.
    pub fn read_token(&self, profile: &SsoProfile) -> Result<Option<CachedToken>, CacheError> {
        read_json(&self.token_path(profile))
    }

    /// Saves `profile`'s token; returns the file written.
    pub fn write_token(
        &self,
        profile: &SsoProfile,
        token: &CachedToken,
    ) -> Result<PathBuf, CacheError> {
        let path = self.token_path(profile);
        write_json(&path, token)?;
        Ok(path)
    }

    /// Deletes `profile`'s token (and nothing else); false when there
    /// was none.
    pub fn remove_token(&self, profile: &SsoProfile) -> Result<bool, CacheError> {
        let path = self.token_path(profile);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CacheError::Io {
                action: "cannot delete",
                path,
                source,
            }),
        }
    }

    /// A cached registration for `profile` and `scopes`; none when there
    /// is none or it cannot be read (a new one is then registered).
    pub fn read_registration(
        &self,
        profile: &SsoProfile,
        scopes: &[String],
    ) -> Option<Registration> {
        let path = self.registration_path(profile, scopes);
        read_json(&path).unwrap_or_else(|error| {
            debug!(%error, "ignoring an unreadable client registration");
            None
        })
    }

    /// Saves a registration for `profile` and `scopes`.
    pub fn write_registration(
        &self,
        profile: &SsoProfile,
        scopes: &[String],
        registration: &Registration,
    ) -> Result<(), CacheError> {
        write_json(&self.registration_path(profile, scopes), registration)
    }

    fn registration_path(&self, profile: &SsoProfile, scopes: &[String]) -> PathBuf {
        self.dir
            .join(format!("{}.json", registration_cache_key(profile, scopes)))
    }
}

fn home_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(home) = var("HOME") {
        return Some(home.into());
    }
    if cfg!(windows) {
        if let Some(profile) = var("USERPROFILE") {
            return Some(profile.into());
        }
        if let (Some(drive), Some(path)) = (var("HOMEDRIVE"), var("HOMEPATH")) {
            let mut home = drive;
            home.push(path);
            return Some(home.into());
        }
    }
    None
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, CacheError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CacheError::Io {
                action: "cannot read",
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|error| CacheError::Corrupt {
            path: path.to_owned(),
            reason: error.to_string(),
        })
}

/// Writes `value` as JSON to `path` atomically (a private temporary file
/// in the same directory, renamed over it), creating the directory.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir)?;
    let io = |action| {
        move |source| CacheError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let json = serde_json::to_vec(value).map_err(|error| CacheError::Corrupt {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    // tempfile creates the file with mode 0600 on Unix.
    let mut file =
        tempfile::NamedTempFile::new_in(dir).map_err(io("cannot create a file next to"))?;
    file.write_all(&json).map_err(io("cannot write"))?;
    file.as_file().sync_all().map_err(io("cannot write"))?;
    file.persist(path)
        .map_err(|error| io("cannot replace")(error.error))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), CacheError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| CacheError::Io {
        action: "cannot create",
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn profile(session: Option<&str>) -> SsoProfile {
        SsoProfile {
            profile: Some("dev".into()),
            session_name: session.map(str::to_owned),
            start_url: "https://d-1234567890.awsapps.com/start".into(),
            region: "us-east-1".into(),
            scopes: None,
            account_id: None,
            role_name: None,
        }
    }

    #[test]
    fn token_file_names_are_the_aws_cli_ones() {
        // sha1("my-sso") and sha1 of the start URL, as `aws sso login` names them.
        assert_eq!(
            token_cache_key(&profile(Some("my-sso"))),
            hex::encode(Sha1::digest(b"my-sso"))
        );
        assert_eq!(
            token_cache_key(&profile(None)),
            hex::encode(Sha1::digest(b"https://d-1234567890.awsapps.com/start"))
        );
    }

    #[test]
    fn registration_key_is_botocores_json() {
        let scopes = vec!["sso:account:access".to_owned()];
        let expected = "{\"region\": \"us-east-1\", \"scopes\": [\"sso:account:access\"], \
                        \"session_name\": \"my-sso\", \"startUrl\": \
                        \"https://d-1234567890.awsapps.com/start\", \"tool\": \"botocore\"}";
        assert_eq!(
            registration_cache_key(&profile(Some("my-sso")), &scopes),
            hex::encode(Sha1::digest(expected.as_bytes()))
        );
        assert_eq!(python_json("é\"\\"), "\"\\u00e9\\\"\\\\\"");
        assert_eq!(python_json("😀"), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn tokens_round_trip_privately_and_removal_is_per_session() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso").join("cache"));
        let token = CachedToken {
            start_url: "https://d-1234567890.awsapps.com/start".into(),
            region: "us-east-1".into(),
            access_token: "token".into(),
            expires_at: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
            client_id: None,
            client_secret: None,
            registration_expires_at: None,
            refresh_token: None,
        };
        let one = profile(Some("one"));
        let two = profile(Some("two"));
        assert_eq!(cache.read_token(&one).unwrap(), None);
        let path = cache.write_token(&one, &token).unwrap();
        cache.write_token(&two, &token).unwrap();
        assert_eq!(cache.read_token(&one).unwrap(), Some(token.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        assert!(cache.remove_token(&one).unwrap());
        assert!(!cache.remove_token(&one).unwrap());
        assert_eq!(cache.read_token(&two).unwrap(), Some(token));
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only two's token remains");
    }

    #[test]
    fn a_corrupt_token_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let one = profile(Some("one"));
        std::fs::write(cache.token_path(&one), b"{not json").unwrap();
        let error = cache.read_token(&one).unwrap_err().to_string();
        assert!(error.contains("not a token cache file"), "{error}");
    }
}
