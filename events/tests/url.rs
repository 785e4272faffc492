//! `--database-url`: migrations with the URL's rights, then every pooled connection switched to the service role.

use embedded_pg::{EmbeddedPostgres, SUPERUSER};
use events::database::{connect, Database, Target};
use events::testkit::cluster_dir;
use events::{Expected, NewEvent, Schema, Store, StoreOptions};

#[tokio::test]
async fn a_database_url_is_migrated_and_served_as_the_service_role() {
    // A database of its own in the shared test cluster, reached through a connection string as an operator's
    // server would be.
    let cluster = tokio::task::spawn_blocking(|| EmbeddedPostgres::start(&cluster_dir(), true)).await.unwrap().unwrap();
    let name = format!("t_url_{:08x}", rand::random::<u32>());
    let maintenance = connect(&cluster.config(SUPERUSER, "postgres")).await.unwrap();
    maintenance.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = format!("host={} user=notch dbname={name}", cluster_dir().join("run").display());

    let database = Database::open(&Target::Url(url), &Schema::log()).await.unwrap();
    assert_eq!(database.service_set_role.as_deref(), Some("notch_app"));
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let options = StoreOptions { pool_size: 2, set_role: database.service_set_role.clone(), ..Default::default() };
    let store = Store::open(database.service.clone(), key, options).await.unwrap();
    store.append("s", Expected::NoStream, vec![NewEvent::new("Hello", &serde_json::json!({}))]).await.unwrap();

    let client = store.pool().get().await.unwrap();
    let role: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(role, "notch_app");
    let err = client.batch_execute("DELETE FROM events").await.unwrap_err();
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{err}");
    // Opening again (a restart) finds the schema in place.
    let again = Target::Url(format!("host={} user=notch dbname={name}", cluster_dir().join("run").display()));
    Database::open(&again, &Schema::log()).await.unwrap();
}
