//! Where the log lives: the embedded cluster under the data directory, or a server named by a URL. Either way
//! migrations run with the owner's rights and the service connects as the `notch_app` role, which may only
//! INSERT and SELECT on the event tables.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio_postgres::NoTls;

use crate::schema::Schema;
use embedded_pg::{EmbeddedPostgres, SUPERUSER};

/// The database name notch uses inside its embedded cluster.
pub const EMBEDDED_DBNAME: &str = "notch";
/// The role the service runs as.
pub const SERVICE_ROLE: &str = "notch_app";
/// Serialises concurrent migrators of one database (several processes starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x6e6f_7463_685f_6d69; // "notch_mi"
/// Serialises the set-up of the databases of one embedded cluster (taken in its `postgres` database).
const CLUSTER_SETUP_LOCK_KEY: i64 = 0x6e6f_7463_685f_7375; // "notch_su"
/// How many times opening the embedded database starts (or adopts) its server again when the first connection
/// fails. The server answered a probe moments before, so such a failure means it crashed in between.
const EMBEDDED_OPEN_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub enum Target {
    /// The private cluster under this data directory.
    Embedded(PathBuf),
    /// An existing server.
    Url(String),
}

/// An opened, migrated database.
pub struct Database {
    /// Connection settings of the owner (migrations, `rebuild`, tests that play an attacker).
    pub admin: tokio_postgres::Config,
    /// Connection settings of the service role.
    pub service: tokio_postgres::Config,
    /// With a URL the service logs in as the URL's user and switches to `notch_app` with SET ROLE.
    pub service_set_role: Option<String>,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub async fn open(target: &Target, schema: &Schema) -> anyhow::Result<Database> {
        match target {
            Target::Embedded(data_dir) => {
                Self::open_embedded(data_dir, EMBEDDED_DBNAME, false, schema).await?.paced().await
            }
            Target::Url(url) => {
                let admin: tokio_postgres::Config =
                    url.parse().with_context(|| "DATABASE_URL is not a valid PostgreSQL connection string")?;
                migrate(&admin, schema).await?;
                let client = connect(&admin).await?;
                let user = admin.get_user().unwrap_or("postgres").to_owned();
                let is_member: bool =
                    client.query_one("SELECT pg_has_role(current_user, $1, 'MEMBER')", &[&SERVICE_ROLE]).await?.get(0);
                if !is_member {
                    client
                        .batch_execute(&format!("GRANT {SERVICE_ROLE} TO \"{}\"", user.replace('"', "\"\"")))
                        .await
                        .with_context(|| format!("granting role {SERVICE_ROLE} to {user}"))?;
                }
                Ok(Database {
                    service: admin.clone(),
                    admin,
                    service_set_role: Some(SERVICE_ROLE.to_owned()),
                    embedded: None,
                })
            }
        }
    }

    /// A fresh, migrated database `name` beside the target's own (for benchmarks); drop it with
    /// [`Database::drop_scratch`].
    pub async fn open_scratch(target: &Target, name: &str, schema: &Schema) -> anyhow::Result<Database> {
        match target {
            Target::Embedded(data_dir) => Self::open_embedded(data_dir, name, false, schema).await?.paced().await,
            Target::Url(url) => {
                let base: tokio_postgres::Config =
                    url.parse().context("DATABASE_URL is not a valid connection string")?;
                connect(&base).await?.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await?;
                let mut admin = base.clone();
                admin.dbname(name);
                migrate(&admin, schema).await?;
                Ok(Database { service: admin.clone(), admin, service_set_role: None, embedded: None })
            }
        }
    }

    /// Drops a database made by [`Database::open_scratch`], disconnecting whoever still uses it.
    pub async fn drop_scratch(&self) -> anyhow::Result<()> {
        let name = self.admin.get_dbname().context("a scratch database has a name")?.to_owned();
        let mut maintenance = self.admin.clone();
        maintenance.dbname("postgres");
        connect(&maintenance).await?.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
        Ok(())
    }

    /// Starts (or adopts) the embedded cluster under `data_dir` and opens database `dbname` in it.
    pub async fn open_embedded(
        data_dir: &Path,
        dbname: &str,
        keep_running: bool,
        schema: &Schema,
    ) -> anyhow::Result<Database> {
        let (embedded, maintenance) = start_and_connect(data_dir, keep_running).await?;
        // Roles are cluster-wide and advisory locks per database: serialise the whole set-up on the maintenance
        // database, so processes opening different databases of one cluster never race on the roles.
        maintenance.execute("SELECT pg_advisory_lock($1)", &[&CLUSTER_SETUP_LOCK_KEY]).await?;
        let prepared = prepare_embedded(&maintenance, &embedded, dbname, schema).await;
        maintenance.execute("SELECT pg_advisory_unlock($1)", &[&CLUSTER_SETUP_LOCK_KEY]).await?;
        let admin = prepared?;
        let service = embedded.config(SERVICE_ROLE, dbname);
        Ok(Database { admin, service, service_set_role: None, embedded: Some(embedded) })
    }

    /// With the embedded cluster: this database's files are written back little and often while this process runs
    /// ([`embedded_pg::writeback`]). The test kit's databases are not paced: a test's appends are small.
    async fn paced(mut self) -> anyhow::Result<Database> {
        if let Some(embedded) = self.embedded.as_mut() {
            let client = connect(&self.admin).await?;
            let oid: u32 =
                client.query_one("SELECT oid FROM pg_database WHERE datname = current_database()", &[]).await?.get(0);
            embedded.pace_writeback(oid)?;
        }
        Ok(self)
    }

    /// Stops the embedded cluster if this was its last user. Blocking work runs off the async threads.
    pub async fn close(mut self) {
        if let Some(mut embedded) = self.embedded.take() {
            let stopped = tokio::task::spawn_blocking(move || embedded.stop()).await;
            match stopped {
                Ok(Err(err)) => tracing::warn!("stopping the embedded PostgreSQL: {err}"),
                Err(err) => tracing::warn!("stopping the embedded PostgreSQL: {err}"),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// Starts (or adopts) the embedded server and connects to its maintenance database.
async fn start_and_connect(
    data_dir: &Path,
    keep_running: bool,
) -> anyhow::Result<(EmbeddedPostgres, tokio_postgres::Client)> {
    let mut attempt = 1;
    loop {
        let dir = data_dir.to_path_buf();
        let embedded = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir, keep_running)).await??;
        match connect(&embedded.config(SUPERUSER, "postgres")).await {
            Ok(client) => return Ok((embedded, client)),
            Err(err) if attempt < EMBEDDED_OPEN_ATTEMPTS => {
                tracing::warn!(
                    "the embedded PostgreSQL stopped answering as it was opened (attempt {attempt}): {err:#}"
                );
                tokio::task::spawn_blocking(move || drop(embedded)).await?;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Creates `dbname` if needed, migrates it, and lets the service role log in; returns the owner's settings.
async fn prepare_embedded(
    maintenance: &tokio_postgres::Client,
    embedded: &EmbeddedPostgres,
    dbname: &str,
    schema: &Schema,
) -> anyhow::Result<tokio_postgres::Config> {
    let exists = maintenance.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname]).await?.is_some();
    if !exists {
        maintenance
            .batch_execute(&format!("CREATE DATABASE \"{}\"", dbname.replace('"', "\"\"")))
            .await
            .context("creating the notch database")?;
    }
    let admin = embedded.config(SUPERUSER, dbname);
    migrate(&admin, schema).await?;
    let can_login: bool =
        maintenance.query_one("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[&SERVICE_ROLE]).await?.get(0);
    if !can_login {
        maintenance.batch_execute(&format!("ALTER ROLE {SERVICE_ROLE} LOGIN")).await?;
    }
    Ok(admin)
}

/// A single connection, its driver task spawned.
pub async fn connect(config: &tokio_postgres::Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = config.connect(NoTls).await.context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!("postgres connection closed: {err}");
        }
    });
    Ok(client)
}

/// Moves the history rows of renumbered migrations ([`crate::schema::Renumbered`]) to their new versions, in one
/// statement each, so the runner sees the history the schema expects.
async fn renumber(client: &tokio_postgres::Client, schema: &Schema) -> anyhow::Result<()> {
    let has_history: bool =
        client.query_one("SELECT to_regclass('refinery_schema_history') IS NOT NULL", &[]).await?.get(0);
    if !has_history {
        return Ok(());
    }
    for (old_version, name, new_version, checksum) in schema.renumberings() {
        let moved = client
            .execute(
                "UPDATE refinery_schema_history SET version = $3, checksum = $4 WHERE version = $1 AND name = $2",
                &[&old_version, &name, &new_version, &checksum],
            )
            .await?;
        if moved > 0 {
            tracing::info!(
                "migration {name} renumbered from V{old_version} to V{new_version} in this database's history"
            );
        }
    }
    Ok(())
}

/// Applies `schema`'s migrations, one migrator at a time.
pub async fn migrate(admin: &tokio_postgres::Config, schema: &Schema) -> anyhow::Result<()> {
    let mut client = connect(admin).await?;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY]).await?;
    let result = apply(&mut client, schema).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]).await?;
    result.context("applying migrations")
}

/// Under the migration lock: the renumbered history rows moved, then refinery's run.
async fn apply(client: &mut tokio_postgres::Client, schema: &Schema) -> anyhow::Result<()> {
    renumber(client, schema).await?;
    schema.runner().run_async(client).await?;
    Ok(())
}
