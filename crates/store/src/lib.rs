//! One storage layer for every openjpki component: SQLite by default, PostgreSQL when a `postgres://`
//! URL is given. Both run the same migrations (`migrations/`, portable SQL only) and the same queries,
//! written with `$n` placeholders, which both engines accept.
#![forbid(unsafe_code)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use sqlx;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the database task stopped before it finished: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool with the schema migrated.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    /// How the pool connects: [`Database::close`] opens one last connection with it.
    options: AnyConnectOptions,
    backend: Backend,
    /// Set once the background WAL checkpointer runs (SQLite; see [`Database::dedicated_writer`]).
    checkpointing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Database {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url).map_err(StoreError::Connect)?.disable_statement_logging();
        let pool_options = match backend {
            // A connection to a local file does not go stale: no round trip to test it before each use.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(8).test_before_acquire(false).after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer. With WAL, synchronous = NORMAL keeps every commit
                    // across a process crash (kill -9) and the database consistent across a power loss, which may
                    // lose only the last commits (https://www.sqlite.org/pragma.html#pragma_synchronous).
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool_options = pool_options.after_release(|conn, _| Box::pin(async move { Ok(out_of_transaction(conn).await) }));
        let pool_options = pool_options.acquire_timeout(Duration::from_secs(30));
        let pool = match pool_options.clone().connect_with(options.clone()).await {
            // PostgreSQL's "database does not exist" (SQLSTATE 3D000): create it, as SQLite creates its file.
            Err(sqlx::Error::Database(e)) if backend == Backend::Postgres && e.code().as_deref() == Some("3D000") => {
                create_postgres_database(url).await?;
                pool_options.connect_with(options.clone()).await.map_err(StoreError::Connect)?
            }
            connected => connected.map_err(StoreError::Connect)?,
        };
        MIGRATIONS.run(&pool).await?;
        Ok(Database { pool, options, backend, checkpointing: Default::default() })
    }

    /// The SQLite URL for a file, created on first use.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// a transaction that reads before it writes cannot fail half-way on a lock upgrade.
    ///
    /// The BEGIN runs on a task of its own, so that a caller dropped while it is under way (a request
    /// whose client hung up) cannot leave a connection inside a transaction that nothing will end:
    /// sqlx-sqlite 0.8.6 awaits once more after its worker ran a custom BEGIN and before the
    /// [`sqlx::Transaction`] exists (`SqliteTransactionManager::begin`), and a future dropped there leaves
    /// the connection in the transaction, holding the write lock, and every later statement on it
    /// uncommitted. Dropped here, the task still finishes and the transaction it made is rolled back.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let (pool, statement) = (self.pool.clone(), self.begin_write_statement());
        Ok(tokio::spawn(async move { pool.begin_with(statement).await }).await??)
    }

    fn begin_write_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// A connection for a writer that keeps one to itself (a group-commit task). On SQLite its commits
    /// no longer checkpoint the WAL into the database file, which stalls the committer for an fsync every
    /// thousand pages; a background task checkpoints every second instead (see [`checkpoint`]).
    pub async fn dedicated_writer(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut *conn).await?;
            if self.checkpointing.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Ok(conn);
            }
            self.every(Duration::from_secs(1), |db| async move {
                if let Err(e) = checkpoint(db.pool()).await {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            });
        }
        Ok(conn)
    }

    /// Runs `job` now and then every `period` on a task of its own until the database closes, when the
    /// task ends. A job under way when closing begins finishes first (closing waits for its connection).
    /// The one periodic-job mechanism: every background job of a server runs on it.
    pub fn every<F, Fut>(&self, period: Duration, job: F) -> tokio::task::JoinHandle<()>
    where
        F: FnMut(Database) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        self.every_after(Duration::ZERO, period, job)
    }

    /// [`Database::every`], the first run `delay` from now.
    pub fn every_after<F, Fut>(&self, delay: Duration, period: Duration, mut job: F) -> tokio::task::JoinHandle<()>
    where
        F: FnMut(Database) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let db = self.clone();
        tokio::spawn(async move {
            let mut closed = db.pool.close_event();
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + delay, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while closed.do_until(ticks.tick()).await.is_ok() {
                job(db.clone()).await;
            }
        })
    }

    /// [`Database::begin_write`] on a connection the caller holds (a writer that keeps one for itself).
    pub async fn begin_write_on<'c>(&self, conn: &'c mut sqlx::AnyConnection) -> Result<sqlx::Transaction<'c, sqlx::Any>, StoreError> {
        use sqlx::Connection;
        Ok(conn.begin_with(self.begin_write_statement()).await?)
    }

    /// Closes the pool; returns once every connection is closed, the ones in use once they come back.
    /// On SQLite the write-ahead log is then folded back into the database file and removed, so the
    /// file alone holds every commit (a backup may copy just it).
    pub async fn close(&self) {
        // sqlx's close may return while connections are still out (it counts the idle ones it closes as
        // given back), or leave one idle that was given back as it began (sqlx issue #3217, still so in
        // 0.8.6): closing again waits for the ones out and closes the idle ones, until none is left.
        loop {
            self.pool.close().await;
            if self.pool.size() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.backend == Backend::Sqlite {
            if let Err(e) = self.fold_wal().await {
                tracing::warn!("folding the write-ahead log into the database file failed: {e}");
            }
        }
    }

    /// The last connection to close folds the log back and removes it; but connections closing at the
    /// same moment (the pool's, from several threads) may each see another still open and leave it. A
    /// connection of its own, opened after them, is the last for sure. ("The WAL file … is normally
    /// removed when the last connection to the database closes", https://www.sqlite.org/tempfiles.html,
    /// "Write-Ahead Log (WAL) Files".)
    async fn fold_wal(&self) -> Result<(), sqlx::Error> {
        use sqlx::{ConnectOptions, Connection};
        let mut conn = self.options.connect().await?;
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        conn.close().await
    }
}

/// Creates the database a `postgres://…/NAME` URL names, through the server's `postgres` database.
async fn create_postgres_database(url: &str) -> Result<(), StoreError> {
    let (base, rest) = url.rsplit_once('/').ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
    let (name, query) = rest.split_once('?').map_or((rest, None), |(n, q)| (n, Some(q)));
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(StoreError::UnsupportedUrl(format!("{url}: the database name must be letters, digits, _ and - to be created")));
    }
    let admin_url = format!("{base}/postgres{}", query.map(|q| format!("?{q}")).unwrap_or_default());
    let admin = AnyPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(30)).connect(&admin_url).await.map_err(StoreError::Connect)?;
    let created = sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await;
    admin.close().await;
    match created {
        Ok(_) => {
            tracing::info!("created the PostgreSQL database {name}");
            Ok(())
        }
        // Another process created it meanwhile (42P04: duplicate_database).
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(StoreError::Connect(e)),
    }
}

/// Whether a connection given back to the pool may be used again: one still inside a transaction (a
/// transaction begun by a cancelled caller and never ended) is closed instead, which rolls it back, so
/// that no later statement on it stays uncommitted after its caller was told it succeeded. A dropped
/// [`sqlx::Transaction`] queues its rollback on the connection; a ping behind it waits for it to run.
async fn out_of_transaction(conn: &mut sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        if conn.ping().await.is_err() {
            return false;
        }
        if conn.is_in_transaction() {
            tracing::warn!("a database connection came back inside a transaction; closing it (the transaction is rolled back)");
            return false;
        }
    }
    true
}

/// WAL frames (pages) past which the checkpointer makes SQLite start the log over: about 16 MB with
/// 4 KiB pages (SQLite's own automatic checkpoint runs at 1,000).
const WAL_RESTART_FRAMES: i64 = if cfg!(test) { 256 } else { 4096 };

/// One turn of the background checkpointer. PASSIVE copies what it can beside the writer and readers.
/// SQLite starts the log over only when a write begins with every frame copied, which steady writes
/// never allow: the log then grows without bound (measured: 17 MB/s at 6,000 checks/s). Past
/// [`WAL_RESTART_FRAMES`], RESTART copies the few frames added since, waiting for the writer's current
/// transaction, and makes the next writer start the log from its beginning
/// (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).
async fn checkpoint(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    if frames > WAL_RESTART_FRAMES {
        sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(pool).await?;
    }
    Ok(())
}

/// The placeholders of a multi-row VALUES list on `conn`'s backend, bound row by row in order:
/// `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite. SQLite binds anonymous parameters by
/// position; a numbered one is found by looking its name up in a list, once per bind, which makes a
/// statement of n numbered parameters cost n² (https://www.sqlite.org/lang_expr.html#varparam).
pub fn values_placeholders(conn: &sqlx::AnyConnection, rows: usize, columns: usize) -> String {
    placeholders(conn.backend_name() != "SQLite", rows, columns)
}

fn placeholders(numbered: bool, rows: usize, columns: usize) -> String {
    let placeholder = |n: usize| if numbered { format!("${n}") } else { "?".to_owned() };
    (0..rows).map(|r| format!("({})", (1..=columns).map(|c| placeholder(r * columns + c)).collect::<Vec<_>>().join(", "))).collect::<Vec<_>>().join(", ")
}

/// Statements that run in order in one transaction. On SQLite they go to the connection's thread as one
/// string, which SQLite runs statement by statement, binding anonymous parameters across them: one trip
/// to that thread and back instead of one per statement, each a pair of context switches. PostgreSQL
/// runs them one after another. Placeholders come from [`values_placeholders`], so each backend gets
/// the kind it binds correctly.
pub struct Statements<'q> {
    together: bool,
    statements: Vec<(String, sqlx::any::AnyArguments<'q>)>,
    /// The first value that failed to encode, reported by [`Statements::execute`].
    error: Option<sqlx::error::BoxDynError>,
}

/// Binds the values of one statement of [`Statements`], in order.
pub struct Binder<'s, 'q> {
    args: &'s mut sqlx::any::AnyArguments<'q>,
    error: &'s mut Option<sqlx::error::BoxDynError>,
}

impl<'q> Binder<'_, 'q> {
    pub fn bind<T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>>(&mut self, value: T) -> &mut Self {
        use sqlx::Arguments;
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }
}

impl<'q> Statements<'q> {
    pub fn new(conn: &sqlx::AnyConnection) -> Statements<'q> {
        Statements { together: conn.backend_name() == "SQLite", statements: Vec::new(), error: None }
    }

    /// [`values_placeholders`] for the backend these statements run on.
    pub fn values_placeholders(&self, rows: usize, columns: usize) -> String {
        placeholders(!self.together, rows, columns)
    }

    /// Adds `sql`; bind its parameters through the binder returned.
    pub fn push(&mut self, sql: &str) -> Binder<'_, 'q> {
        if self.statements.is_empty() || !self.together {
            self.statements.push((String::new(), Default::default()));
        }
        let last = self.statements.len() - 1;
        let (text, args) = &mut self.statements[last];
        if !text.is_empty() {
            text.push_str(";\n");
        }
        text.push_str(sql);
        Binder { args, error: &mut self.error }
    }

    /// Runs the statements on `conn`, inside the transaction the caller holds there.
    pub async fn execute(self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e).into());
        }
        for (sql, args) in self.statements {
            sqlx::query_with(&sql, args).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Runs the statements as one write transaction of their own on `conn`, which must not be in one.
    /// On SQLite `BEGIN IMMEDIATE`, the statements and `COMMIT` go as one string: the whole transaction
    /// is one trip to the connection's thread. If any statement fails, nothing of them stays: the
    /// transaction is rolled back before the error is returned.
    pub async fn commit(mut self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        if let Some(e) = self.error.take() {
            return Err(sqlx::Error::Encode(e).into());
        }
        let ran = if self.together {
            let (text, args) = self.statements.pop().unwrap_or_default();
            let sql = if text.is_empty() { "BEGIN IMMEDIATE;\nCOMMIT".to_owned() } else { format!("BEGIN IMMEDIATE;\n{text};\nCOMMIT") };
            sqlx::query_with(&sql, args).execute(&mut *conn).await.map(drop)
        } else {
            async {
                conn.execute("BEGIN").await?;
                for (sql, args) in self.statements {
                    sqlx::query_with(&sql, args).execute(&mut *conn).await?;
                }
                conn.execute("COMMIT").await.map(drop)
            }
            .await
        };
        if let Err(e) = ran {
            // A rollback fails only when no transaction is open any more (some SQLite errors end it) or
            // the connection is lost: either way `conn` is not left inside one.
            let _ = conn.execute("ROLLBACK").await;
            return Err(e.into());
        }
        Ok(())
    }
}

/// A new identifier: 16 bytes as hex, with a readable prefix (`person_…`); 80 of its bits come from the
/// CSPRNG, so ids cannot be guessed.
pub fn new_id(prefix: &str) -> String {
    // UUIDv7's layout (RFC 9562 §5.7) without its version bits: 48 bits of Unix milliseconds, then 80
    // random bits. Ids made in order sort in order, so each insert lands at the right edge of the
    // primary-key B-tree instead of on a random page: a commit rewrites a few pages, not one per row.
    let millis = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
    let mut bytes: [u8; 16] = rand::random();
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// Databases for tests: a fresh SQLite file always, and a fresh PostgreSQL database when
/// `JPKI_TEST_POSTGRES_URL` names a server (CI sets it; see `.ci/run`).
pub mod testing {
    use super::*;

    /// Says on the terminal that something was skipped. Written to the stderr handle directly, so the
    /// test harness's output capture does not hide it.
    pub fn skipped(what: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
    }

    /// Where the PostgreSQL tests run, or `None` (after saying so on stderr) when they are skipped.
    /// Under `CI=true` a missing URL is an error: CI must never skip them silently.
    pub fn postgres_admin_url() -> Option<String> {
        match std::env::var("JPKI_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but JPKI_TEST_POSTGRES_URL is not set: the PostgreSQL tests must run in CI");
                }
                skipped("PostgreSQL tests (set JPKI_TEST_POSTGRES_URL=postgres://user@host/db to run them)");
                None
            }
        }
    }

    /// Creates a new, empty PostgreSQL database on the server of `admin_url` and returns its URL.
    pub async fn fresh_postgres_database(admin_url: &str) -> Result<String, StoreError> {
        sqlx::any::install_default_drivers();
        let name = new_id("jpki_test");
        let admin = AnyPoolOptions::new().max_connections(1).connect(admin_url).await.map_err(StoreError::Connect)?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
        admin.close().await;
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(admin_url);
        Ok(format!("{base}/{name}"))
    }

    /// URLs of the databases a test should run against: a SQLite file under `dir`, and PostgreSQL when
    /// configured.
    pub async fn database_urls(dir: &Path) -> Vec<String> {
        let mut urls = vec![Database::sqlite_url(&dir.join("test.sqlite3"))];
        if let Some(admin) = postgres_admin_url() {
            urls.push(fresh_postgres_database(&admin).await.expect("create a fresh PostgreSQL database"));
        }
        urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new empty directory for one test's files.
    fn scratch_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(new_id("jpki-store-test"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn statements_bind_their_placeholders_in_order_on_every_backend() {
        let dir = scratch_dir();
        for url in testing::database_urls(&dir).await {
            let db = Database::open(&url).await.unwrap();
            let mut tx = db.begin_write().await.unwrap();
            let placeholders = values_placeholders(&tx, 2, 7);
            let expected = match db.backend() {
                Backend::Sqlite => "(?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?)",
                Backend::Postgres => "($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14)",
            };
            assert_eq!(placeholders, expected);
            // Two inserts and an update with parameters of their own, bound in order across them.
            let mut statements = Statements::new(&tx);
            for first in [7i64, 20] {
                let sql = format!("INSERT INTO audit_log (seq, action, result, detail, at, prev_hash, hash) VALUES {}", values_placeholders(&tx, 2, 7));
                let mut rows = statements.push(&sql);
                for seq in [first, first + 2] {
                    rows.bind(seq).bind(format!("action {seq}")).bind(format!("result {seq}")).bind("{}").bind(seq * 10).bind("").bind("");
                }
            }
            let sql = format!("UPDATE audit_log SET (action, at) = {} WHERE seq = 9", values_placeholders(&tx, 1, 2));
            statements.push(&sql).bind("updated").bind(-1i64);
            statements.execute(&mut tx).await.unwrap();
            let rows: Vec<(i64, String, String, i64)> =
                sqlx::query_as("SELECT seq, action, result, at FROM audit_log ORDER BY seq").fetch_all(&mut *tx).await.unwrap();
            let row = |seq: i64, action: &str, at: i64| (seq, action.to_owned(), format!("result {seq}"), at);
            assert_eq!(rows, [row(7, "action 7", 70), row(9, "updated", -1), row(20, "action 20", 200), row(22, "action 22", 220)], "{url}");
            tx.rollback().await.unwrap();
            db.close().await;
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_committed_batch_stays_whole_and_a_failed_one_leaves_nothing() {
        let dir = scratch_dir();
        for url in testing::database_urls(&dir).await {
            let db = Database::open(&url).await.unwrap();
            let mut conn = db.pool().acquire().await.unwrap();
            fn batch<'q>(conn: &sqlx::AnyConnection, seqs: &[i64]) -> Statements<'q> {
                let mut statements = Statements::new(conn);
                for &seq in seqs {
                    let sql = format!("INSERT INTO audit_log (seq, action, result, detail, at, prev_hash, hash) VALUES {}", values_placeholders(conn, 1, 7));
                    statements.push(&sql).bind(seq).bind("test").bind("ok").bind("{}").bind(0i64).bind("").bind("");
                }
                statements
            }
            batch(&conn, &[1, 2]).commit(&mut conn).await.unwrap();
            // The third insert repeats a primary key: the first two of this batch must not stay.
            let conflict = batch(&conn, &[3, 4, 2]).commit(&mut conn).await.unwrap_err();
            assert!(matches!(conflict, StoreError::Query(_)), "{url}: {conflict}");
            // The connection is out of the failed transaction: a new one begins and commits.
            batch(&conn, &[5]).commit(&mut conn).await.unwrap();
            let seqs: Vec<(i64,)> = sqlx::query_as("SELECT seq FROM audit_log ORDER BY seq").fetch_all(db.pool()).await.unwrap();
            assert_eq!(seqs, [(1,), (2,), (5,)], "{url}");
            drop(conn);
            db.close().await;
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn ids_sort_in_the_order_they_were_made_and_differ_within_a_millisecond() {
        let ids: Vec<String> = (0..2000).map(|_| new_id("verification")).collect();
        for pair in ids.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_ne!(a, b);
            // The 12 hex digits of milliseconds never go backwards; within one millisecond the random part
            // makes ids distinct but need not sort.
            assert!(a[13..25] <= b[13..25], "{a} then {b}");
        }
        assert!(ids.iter().all(|id| id.len() == "verification_".len() + 32 && id[13..].bytes().all(|c| c.is_ascii_hexdigit())));
        let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
        let stamped = u64::from_str_radix(&ids[0][13..25], 16).expect("hex");
        assert!(now.abs_diff(stamped) < 60_000, "the id carries the time it was made");
    }

    /// A PostgreSQL database that does not exist yet is created, as a SQLite file is.
    #[tokio::test]
    async fn a_missing_postgres_database_is_created() {
        let Some(admin) = testing::postgres_admin_url() else { return };
        let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap();
        let url = format!("{base}/{}", new_id("jpki_test"));
        let db = Database::open(&url).await.unwrap();
        let (epoch,): (i64,) = sqlx::query_as("SELECT status_epoch FROM issuer_state WHERE id = 1").fetch_one(db.pool()).await.unwrap();
        assert_eq!(epoch, 0);
        db.close().await;
        assert!(matches!(Database::open(&format!("{base}/bad.name")).await, Err(StoreError::UnsupportedUrl(_))));
    }

    #[tokio::test]
    async fn opens_and_migrates_every_backend_twice() {
        let dir = scratch_dir();
        for url in testing::database_urls(&dir).await {
            for _ in 0..2 {
                let db = Database::open(&url).await.unwrap();
                let (epoch,): (i64,) = sqlx::query_as("SELECT status_epoch FROM issuer_state WHERE id = 1").fetch_one(db.pool()).await.unwrap();
                assert_eq!(epoch, 0);
                db.close().await;
            }
        }
        assert!(matches!(Database::open("mysql://x").await, Err(StoreError::UnsupportedUrl(_))));
        std::fs::remove_dir_all(dir).ok();
    }

    /// Closing waits for a connection still in use, even when sqlx's own close returns first (it counts
    /// the idle connections it closes as given back), and on SQLite leaves no write-ahead log behind.
    #[tokio::test]
    async fn close_returns_once_every_connection_is_closed() {
        let dir = scratch_dir();
        for url in testing::database_urls(&dir).await {
            let db = Database::open(&url).await.unwrap();
            let (held, idle) = (db.pool().acquire().await.unwrap(), db.pool().acquire().await.unwrap());
            drop(idle);
            while db.pool().num_idle() == 0 {
                tokio::task::yield_now().await;
            }
            let user = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(held);
            });
            db.close().await;
            assert_eq!(db.pool().size(), 0, "{url}");
            assert!(!dir.join("test.sqlite3-wal").exists(), "{url}");
            user.await.unwrap();
        }
        std::fs::remove_dir_all(dir).ok();
    }

    /// A fresh SQLite database in a directory of its own, and the dedicated writer's connection.
    async fn sqlite_with_writer() -> (std::path::PathBuf, Database, sqlx::pool::PoolConnection<sqlx::Any>) {
        let dir = scratch_dir();
        let db = Database::open(&Database::sqlite_url(&dir.join("test.sqlite3"))).await.unwrap();
        let writer = db.dedicated_writer().await.unwrap();
        (dir, db, writer)
    }

    /// An audit row carrying 32 KB.
    async fn insert_32k(tx: &mut sqlx::Transaction<'_, sqlx::Any>, seq: i64) {
        sqlx::query("INSERT INTO audit_log (seq, action, result, detail, at, prev_hash, hash) VALUES ($1, 'test', 'ok', $2, 0, '', '')")
            .bind(seq)
            .bind("x".repeat(32 * 1024))
            .execute(&mut **tx)
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_the_log_is_started_over_instead_of_growing() {
        let (dir, db, mut writer) = sqlite_with_writer().await;
        // 64 KB commits every 5 ms for 3 s: about 38 MB through the log, never a pause long enough for
        // a PASSIVE checkpoint alone to let SQLite start the log over.
        let started = std::time::Instant::now();
        let mut seq = 0i64;
        let mut largest = 0;
        while started.elapsed() < Duration::from_secs(3) {
            let mut tx = db.begin_write_on(&mut writer).await.unwrap();
            for _ in 0..2 {
                seq += 1;
                insert_32k(&mut tx, seq).await;
            }
            tx.commit().await.unwrap();
            largest = largest.max(std::fs::metadata(dir.join("test.sqlite3-wal")).map(|m| m.len()).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let written = seq as u64 * 32 * 1024;
        assert!(written > 16_000_000, "the test wrote only {written} bytes");
        // RESTART past 256 frames (1 MB) each second bounds the log near one second of writes.
        assert!(largest < written / 2, "the log grew to {largest} bytes of the {written} written");
        drop(writer);
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }

    /// The dedicated writer's commits stay in the WAL (no checkpoint on commit) until the background
    /// checkpointer copies them into the database file, and they are durable in the WAL meanwhile.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_background_checkpointer_moves_a_writers_commits_into_the_database_file() {
        let (dir, db, mut writer) = sqlite_with_writer().await;
        let file = dir.join("test.sqlite3");
        let before = std::fs::metadata(&file).unwrap().len();
        let mut tx = db.begin_write_on(&mut writer).await.unwrap();
        // 2 MB, under SQLite's automatic checkpoint (1,000 pages, 4 MB): only the background task moves it.
        for seq in 0..64 {
            insert_32k(&mut tx, seq).await;
        }
        tx.commit().await.unwrap();
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log").fetch_one(db.pool()).await.unwrap();
        assert_eq!(rows, 64);
        let mut grown = std::fs::metadata(&file).unwrap().len();
        for _ in 0..50 {
            if grown >= before + 2_000_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            grown = std::fs::metadata(&file).unwrap().len();
        }
        assert!(grown >= before + 2_000_000, "the database file grew from {before} to {grown} bytes only: no checkpoint ran");
        drop(writer);
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }
}
