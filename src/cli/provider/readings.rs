//! `notch provider readings`: what `notch provider serve` stored, from `report.provider_readings` of the
//! provider's own database, one JSON line per reading, oldest first per policy.

use std::process::ExitCode;

use events::database::Database;
use uuid::Uuid;

use super::super::node::DbArgs;

/// Readings printed at most (the newest `limit` of them).
pub const MAX_LIMIT: i64 = 100_000;

pub async fn run(db: DbArgs, policy: Option<Uuid>, device: Option<String>, limit: i64) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((1..=MAX_LIMIT).contains(&limit), "--limit is 1 to {MAX_LIMIT}");
    let database = Database::open(&db.target(), &projections::schema()).await?;
    let (client, connection) = database.service.connect(tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    if let Some(role) = &database.service_set_role {
        client.batch_execute(&format!("SET ROLE \"{role}\"")).await?;
    }
    let rows = client
        .query(
            "SELECT row_to_json(r)::text FROM ( \
               SELECT * FROM report.provider_readings \
               WHERE ($1::uuid IS NULL OR policy_id = $1) AND ($2::text IS NULL OR device_id = $2) \
               ORDER BY stored_at DESC, policy_id, message_index DESC LIMIT $3) r \
             ORDER BY r.policy_id, r.message_index",
            &[&policy, &device, &limit],
        )
        .await?;
    for row in rows {
        println!("{}", row.get::<_, String>(0));
    }
    drop(client);
    let _ = connection.await;
    database.close().await;
    Ok(ExitCode::SUCCESS)
}
