//! Profiles: one local journal and one sign-in per profile, under the user's data directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use journal_core::Journal;
use journal_core::sync::client::RelayConfig;
use serde::{Deserialize, Serialize};

/// What a profile remembers about its sign-in. The token is a secret: the file is readable only by its
/// owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignIn {
    /// Relay URL.
    pub server: String,
    /// Device token.
    pub token: String,
    /// Account id.
    pub account: String,
    /// Role.
    pub role: journal_core::AccountRole,
    /// Display name.
    pub name: String,
    /// The fingerprint of the relay's certificate, when the profile signed in trusting that one only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<journal_core::certificate_pin::CertificatePin>,
}

/// A profile's folder.
pub struct Profile {
    dir: PathBuf,
}

impl Profile {
    /// The profile `name` under `home` (default: the user's data directory).
    pub fn open(home: Option<&Path>, name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !valid {
            bail!("profile names use letters, digits, '-' and '_'");
        }
        let home = match home {
            Some(home) => home.to_owned(),
            None => dirs::data_dir()
                .context("this system has no user data directory; pass --home")?
                .join("school-journal"),
        };
        let dir = home.join("profiles").join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        restrict(&dir, 0o700)?;
        Ok(Profile { dir })
    }

    /// The profile's local journal.
    pub fn journal(&self) -> Result<Journal> {
        Journal::open(&self.dir.join("journal.db")).context("cannot open this profile's journal")
    }

    /// The sign-in, if the profile has one.
    pub fn sign_in(&self) -> Result<Option<SignIn>> {
        let path = self.dir.join("sign-in.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)?;
        Ok(Some(serde_json::from_str(&text).context(
            "the profile's sign-in file is damaged; log in again",
        )?))
    }

    /// The sign-in, or an error that says how to get one.
    pub fn require_sign_in(&self) -> Result<SignIn> {
        self.sign_in()?
            .context("this profile is not signed in: run `journal login SERVER CODE` with the code from your school")
    }

    /// Sets the profile's journal and sign-in aside, to sign it in as another account: the journal file is
    /// renamed (with `account` and the time in its name), never deleted. Returns where it went.
    pub fn set_journal_aside(&self, account: &str) -> Result<PathBuf> {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let safe: String = account
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let kept = self.dir.join(format!("journal-{safe}-{stamp}.db"));
        let journal = self.dir.join("journal.db");
        if journal.exists() {
            std::fs::rename(&journal, &kept)
                .with_context(|| format!("cannot set {} aside", journal.display()))?;
            // SQLite's companions go with it, so the kept file opens with everything it held.
            for suffix in ["-wal", "-shm"] {
                let companion = self.dir.join(format!("journal.db{suffix}"));
                if companion.exists() {
                    std::fs::rename(
                        &companion,
                        self.dir.join(format!("journal-{safe}-{stamp}.db{suffix}")),
                    )?;
                }
            }
        }
        let sign_in = self.dir.join("sign-in.json");
        if sign_in.exists() {
            std::fs::remove_file(&sign_in)?;
        }
        Ok(kept)
    }

    /// Saves the sign-in.
    pub fn save_sign_in(&self, sign_in: &SignIn) -> Result<()> {
        let path = self.dir.join("sign-in.json");
        std::fs::write(&path, serde_json::to_string_pretty(sign_in)?)?;
        restrict(&path, 0o600)
    }
}

impl SignIn {
    /// The sync client's configuration.
    pub fn config(&self) -> RelayConfig {
        RelayConfig::new(&self.server, &self.token).pinned(self.pin)
    }
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
