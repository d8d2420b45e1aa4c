//! The schema, created and migrated by ringmaster itself.
//!
//! Migrations are numbered and applied in order, each in the transaction that records it in
//! `ringmaster_schema`, under an advisory lock so two nodes starting together do not race. A
//! database whose schema is newer than this build is refused at start-up.

use postgres::Client;

use crate::store::StoreError;

/// Serialises migrations across nodes (an arbitrary constant: "rmst").
const LOCK: i64 = 0x726d_7374;

/// `(version, SQL)`, oldest first. Never edit a released one: add the next.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    r#"
    -- Every record is one JSON document under (kind, k); k is a JSON array of the key parts.
    CREATE TABLE records (
        kind text NOT NULL,
        k text NOT NULL,
        data jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, k)
    );
    -- Secrets shared by the nodes (admin token, nonce key, sealing key), each sealed with a
    -- key derived from the cluster secret, which never enters the database.
    CREATE TABLE secrets (
        name text PRIMARY KEY,
        sealed bytea NOT NULL
    );
    -- Read-only views for operators' queries.
    CREATE VIEW apps AS SELECT data FROM records WHERE kind = 'app';
    CREATE VIEW endpoints AS SELECT data FROM records WHERE kind = 'endpoint';
    CREATE VIEW bindings AS
        SELECT k AS aor, jsonb_array_elements(data) AS binding FROM records
        WHERE kind = 'bindings';
    CREATE VIEW numbers AS SELECT data FROM records WHERE kind = 'number';
    CREATE VIEW trunks AS SELECT data FROM records WHERE kind = 'trunk';
    CREATE VIEW cdrs AS SELECT data FROM records WHERE kind = 'cdr';
    CREATE VIEW nodes AS SELECT data FROM records WHERE kind = 'node';
    "#,
)];

/// The newest schema this build knows.
pub const LATEST: i32 = 1;

fn db(e: postgres::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// Brings the schema to [`LATEST`]; refuses a newer one.
pub fn migrate(client: &mut Client) -> Result<i32, StoreError> {
    let mut tx = client.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ringmaster_schema (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .map_err(db)?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM ringmaster_schema",
            &[],
        )
        .map_err(db)?
        .get(0);
    if current > LATEST {
        return Err(StoreError::Database(format!(
            "the database's schema is version {current}, but this build knows up to \
             {LATEST}: run the ringmaster version that wrote it"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).map_err(db)?;
        tx.execute(
            "INSERT INTO ringmaster_schema (version) VALUES ($1)",
            &[version],
        )
        .map_err(db)?;
        tracing::info!(version, "store schema migrated");
    }
    tx.commit().map_err(db)?;
    Ok(current.max(LATEST))
}
