//! Where the command's state lives: the data directory and the database.

use std::path::{Path, PathBuf};

use jpki_issuer::{Issuer, IssuerError};
use jpki_store::Database;

pub type CliResult<T = ()> = Result<T, CliError>;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Issuer(#[from] IssuerError),
    #[error("{0}")]
    Store(#[from] jpki_store::StoreError),
    #[error("{0}")]
    CardDir(#[from] jpki_card::card_dir::CardDirError),
    #[error(transparent)]
    File(#[from] jpki_files::FileError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Wallet(#[from] jpki_wallet::WalletError),
    #[error("{0}")]
    Mdoc(#[from] jpki_mdoc::MdocError),
}

pub struct Context {
    pub data_dir: PathBuf,
    database_url: Option<String>,
    pub json: bool,
    /// Where the sandbox issuer is reached (its records name their status list under it), if given.
    pub sandbox_url: Option<String>,
    /// Opened on first use, shared by everything the command does, closed when it ends.
    database: tokio::sync::OnceCell<Database>,
}

impl Context {
    pub fn new(data_dir: PathBuf, database_url: Option<String>, json: bool, sandbox_url: Option<String>) -> Self {
        Context { data_dir, database_url, json, sandbox_url, database: Default::default() }
    }

    fn default_sqlite(&self) -> PathBuf {
        self.data_dir.join("jpki.sqlite3")
    }

    /// The database, opened on first use; with `create` false, a missing default SQLite file is an error
    /// rather than a new empty database (so a mistyped data directory writes nothing).
    pub async fn database(&self, create: bool) -> CliResult<Database> {
        self.database.get_or_try_init(|| self.open_database(create)).await.cloned()
    }

    /// Closes the database if the command opened it. Closing waits for the writes under way (a
    /// recorder's batch, a CRL publication) and on SQLite folds the write-ahead log back into the
    /// database file, so the data directory holds the database in one file between commands.
    pub async fn close(&self) {
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
        let Some(db) = self.database.get() else { return };
        if tokio::time::timeout(PATIENCE, db.close()).await.is_err() {
            tracing::warn!("the database did not close within {PATIENCE:?}; stopping anyway (every acknowledged write is committed)");
        }
    }

    async fn open_database(&self, create: bool) -> CliResult<Database> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let path = self.default_sqlite();
                if !create && !path.exists() {
                    return Err(IssuerError::NotInitialized.into());
                }
                std::fs::create_dir_all(&self.data_dir).map_err(|e| CliError::Usage(format!("cannot create {}: {e}", self.data_dir.display())))?;
                Database::sqlite_url(&path)
            }
        };
        Ok(Database::open(&url).await?)
    }

    pub async fn issuer(&self) -> CliResult<Issuer> {
        Ok(Issuer::open(self.database(false).await?).await?.with_public_url(self.sandbox_url.as_deref().unwrap_or(jpki_issuer::DEFAULT_PUBLIC_URL)))
    }

    pub fn trust_dir(&self) -> PathBuf {
        self.data_dir.join("trust")
    }

    pub fn crl_dir(&self) -> PathBuf {
        self.data_dir.join("crl")
    }

    /// Writes the sandbox's trust anchors into `<data-dir>/trust` (see [`Issuer::export_trust`]).
    pub async fn export_trust(&self, issuer: &Issuer) -> CliResult<Vec<PathBuf>> {
        Ok(issuer.export_trust(&self.trust_dir()).await?)
    }
}

pub fn display(p: &Path) -> String {
    p.display().to_string()
}
