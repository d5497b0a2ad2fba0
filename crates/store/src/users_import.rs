//! U1's CSV import, all or nothing, without keeping logins waiting (issue 13 item 3).
//!
//! The file is read row by row into a TEMP staging table on a connection of its own, with
//! no lock: the rows are checked there (format, duplicates) and nothing of the ledger is
//! held meanwhile. Only then does one write transaction on that connection compare the
//! staged rows with the users as they are now (existing logins, folders, the built-in
//! administrator, licenses held, area limits) and apply them: a fixed number of set-based
//! statements (`INSERT … SELECT`, `UPDATE … FROM`), never a statement per row, so the time
//! under the write lock that logins need is short and grows linearly with the file.
//! The connection is closed afterwards, which drops the staging table whatever happened.

use std::collections::BTreeMap;

use seatkeeper_core::error::RowError;
use seatkeeper_core::users_csv::{RowReader, duplicate_message};
use seatkeeper_core::{Area, Error as DomainError, FolderId};
use serde_json::json;

use crate::db::{
    Backend, INSERT_VALUES, Tx, audit_select, count, get_i64, get_opt_i64, get_str, insert_rows_on,
    parse,
};
use crate::folders::FolderTree;
use crate::reconcile::reconcile;
use crate::sql_value::Val;
use crate::{Actor, CsvImportReport, Ledger, Result};

/// How far an import has got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// Rows read and staged so far.
    Read { rows: u64 },
    /// Every row is read; they are being checked against the ledger and applied.
    Applying { rows: u64 },
}

/// Rows read between two writes to the staging table (and two progress reports).
const STAGE_ROWS: usize = 1000;

const STAGING: &str = "CREATE TEMP TABLE import_rows (
    line BIGINT PRIMARY KEY,
    login TEXT NOT NULL,
    login_lc TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    area TEXT NOT NULL,
    folder TEXT NOT NULL,
    folder_id BIGINT,
    state TEXT NOT NULL,
    created_details TEXT NOT NULL,
    updated_details TEXT NOT NULL,
    user_id BIGINT,
    cur_login TEXT,
    cur_name TEXT,
    cur_email TEXT,
    cur_area TEXT,
    cur_folder BIGINT,
    cur_state TEXT,
    cur_builtin BIGINT
)";

// The checks of a staged row against the ledger, in the order they are reported (a row gets
// the first that applies). Each is TRUE or FALSE, never NULL, so NOT works on it.
const BAD_FOLDER: &str =
    "(s.folder_id IS NULL OR NOT EXISTS (SELECT 1 FROM folders f WHERE f.id = s.folder_id))";
const BUILTIN: &str =
    "(COALESCE(s.cur_builtin, 0) = 1 AND (s.state = 'blocked' OR s.area <> s.cur_area))";
const HOLDS: &str = "(s.user_id IS NOT NULL AND s.area <> s.cur_area \
     AND EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = s.user_id))";
/// The row makes an active user of someone who does not count in that area now.
const TAKES_PLACE: &str = "(s.state = 'active' AND NOT (s.user_id IS NOT NULL \
     AND (s.cur_builtin = 1 OR (s.cur_state = 'active' AND s.cur_area = s.area))))";
/// The row stops an active user from counting in their area.
const FREES_PLACE: &str = "(s.user_id IS NOT NULL AND s.cur_state = 'active' \
     AND s.cur_builtin = 0 AND (s.state = 'blocked' OR s.area <> s.cur_area))";
const CHANGED: &str = "(s.user_id IS NOT NULL AND NOT (s.name = s.cur_name \
     AND s.email = s.cur_email AND s.area = s.cur_area AND s.folder_id = s.cur_folder \
     AND s.state = s.cur_state))";
const BLOCKS: &str = "(s.user_id IS NOT NULL AND s.cur_state = 'active' AND s.state = 'blocked')";

fn details(area: Area, folder: &str, state: &str, freed: Option<&[String]>) -> String {
    match freed {
        None => json!({"area": area, "folder": folder, "state": state, "via": "csv"}),
        Some(freed) => {
            json!({"area": area, "folder": folder, "state": state, "freed": freed, "via": "csv"})
        }
    }
    .to_string()
}

impl Ledger {
    /// U1: imports users from CSV, all or nothing. New logins are created; existing ones are
    /// updated. Every bad row is reported with its line number, including rows that would
    /// take an area past its limit.
    pub async fn import_users_csv(&self, actor: &Actor, text: &str) -> Result<CsvImportReport> {
        self.import_users_csv_from(actor, text.as_bytes(), |_| {})
            .await
    }

    /// [`Ledger::import_users_csv`] from a reader, in bounded memory, telling `progress` how
    /// far it has got. The reader is read synchronously, a chunk of rows at a time.
    pub async fn import_users_csv_from<R, P>(
        &self,
        actor: &Actor,
        input: R,
        mut progress: P,
    ) -> Result<CsvImportReport>
    where
        R: std::io::Read + Send,
        P: FnMut(ImportProgress) + Send,
    {
        let mut reader = RowReader::new(input)?;
        let mut conn = self.pool.acquire().await?;
        // The staging table lives as long as this connection: closing it rather than
        // returning it to the pool drops the table on every path, errors included.
        conn.close_on_drop();
        sqlx::query(STAGING).execute(&mut *conn).await?;
        sqlx::query("CREATE INDEX import_rows_login ON import_rows (login_lc)")
            .execute(&mut *conn)
            .await?;
        let tree = FolderTree::load_on(&mut conn).await?;
        // Paths resolved so far; bounded by the tree's size (unknown paths are not kept).
        let mut resolved: BTreeMap<String, (FolderId, String)> = BTreeMap::new();
        let mut problems: Vec<RowError> = Vec::new();
        let mut read = 0u64;
        let values = match self.backend {
            Backend::Sqlite => INSERT_VALUES,
            // PostgreSQL takes large statements well; fewer round trips matter more.
            Backend::Postgres => 6000,
        };
        loop {
            let mut chunk = Vec::with_capacity(STAGE_ROWS);
            let mut done = false;
            while chunk.len() < STAGE_ROWS {
                let Some(parsed) = reader.next_row() else {
                    done = true;
                    break;
                };
                read += 1;
                let row = match parsed.row {
                    Ok(row) => row,
                    Err(message) => {
                        problems.push(RowError {
                            line: parsed.line,
                            message,
                        });
                        // Staged anyway when its login is readable, so that a later row
                        // with the same login is reported as a duplicate, as `parse` does.
                        if let Some(login) = parsed.login {
                            chunk.push(vec![
                                Val::Int(i64::try_from(parsed.line).unwrap_or(i64::MAX)),
                                Val::Text(login.to_ascii_lowercase()),
                                Val::Text(login),
                                Val::Text(String::new()),
                                Val::Text(String::new()),
                                Val::Text(Area::Employee.as_str().into()),
                                Val::Text(String::new()),
                                Val::OptInt(None),
                                Val::Text("active".into()),
                                Val::Text(String::new()),
                                Val::Text(String::new()),
                            ]);
                        }
                        continue;
                    }
                };
                let folder = match resolved.get(&row.folder) {
                    Some(f) => Some(f.clone()),
                    None => match tree.resolve(&row.folder) {
                        Ok(id) => {
                            let f = (id, tree.path(id));
                            resolved.insert(row.folder.clone(), f.clone());
                            Some(f)
                        }
                        Err(_) => None,
                    },
                };
                let path = folder.as_ref().map_or(String::new(), |f| f.1.clone());
                chunk.push(vec![
                    Val::Int(i64::try_from(row.line).unwrap_or(i64::MAX)),
                    Val::Text(row.login.to_ascii_lowercase()),
                    Val::Text(row.login.clone()),
                    Val::Text(row.name.clone()),
                    Val::Text(row.email.clone()),
                    Val::Text(row.area.as_str().into()),
                    Val::Text(row.folder.clone()),
                    Val::OptInt(folder.map(|f| f.0.0)),
                    Val::Text(row.state.as_str().into()),
                    Val::Text(details(row.area, &path, row.state.as_str(), None)),
                    Val::Text(details(row.area, &path, row.state.as_str(), Some(&[]))),
                ]);
            }
            insert_rows_on(
                &mut conn,
                "INSERT INTO import_rows (line, login_lc, login, name, email, area, folder, \
                 folder_id, state, created_details, updated_details)",
                11,
                chunk,
                values,
            )
            .await?;
            progress(ImportProgress::Read { rows: read });
            if done {
                break;
            }
        }

        // Duplicates: each repeated login names the line it appeared on last before.
        let dups = sqlx::query(
            "SELECT s.line AS line, s.login AS login, MAX(f.line) AS prev \
             FROM import_rows s JOIN import_rows f ON f.login_lc = s.login_lc AND f.line < s.line \
             GROUP BY s.line, s.login",
        )
        .fetch_all(&mut *conn)
        .await?;
        if !dups.is_empty() || !problems.is_empty() {
            let mut by_line: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            for d in dups {
                let line = count(get_i64(&d, "line")?);
                by_line.entry(line).or_default().push(duplicate_message(
                    &get_str(&d, "login")?,
                    count(get_i64(&d, "prev")?),
                ));
            }
            for p in problems {
                by_line.entry(p.line).or_default().push(p.message);
            }
            return Err(DomainError::Csv(
                by_line
                    .into_iter()
                    .map(|(line, m)| RowError {
                        line,
                        message: m.join("; "),
                    })
                    .collect(),
            )
            .into());
        }
        if self.backend == Backend::Postgres {
            // Temporary tables are never analysed by autovacuum; the plans below need sizes.
            sqlx::query("ANALYZE import_rows")
                .execute(&mut *conn)
                .await?;
        }

        progress(ImportProgress::Applying { rows: read });
        let now = self.now();
        let mut tx = self.begin_write_on(conn).await?;
        sqlx::query(
            "UPDATE import_rows SET user_id = u.id, cur_login = u.login, cur_name = u.name, \
             cur_email = u.email, cur_area = u.area, cur_folder = u.folder_id, \
             cur_state = u.state, cur_builtin = u.builtin \
             FROM users u WHERE lower(u.login) = import_rows.login_lc",
        )
        .execute(&mut *tx)
        .await?;
        let errors = row_errors(&mut tx).await?;
        if !errors.is_empty() {
            return Err(DomainError::Csv(errors).into());
        }
        let report = apply(&mut tx, now, actor, &tree).await?;
        reconcile(&mut tx, now, true).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// The staged rows that the ledger refuses as it is now, one error per line, in line order.
async fn row_errors(tx: &mut Tx) -> Result<Vec<RowError>> {
    let mut errors = Vec::new();
    let sql =
        format!("SELECT s.line AS line, s.folder AS folder FROM import_rows s WHERE {BAD_FOLDER}");
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
    {
        errors.push(RowError {
            line: count(get_i64(&r, "line")?),
            message: format!("unknown folder {:?}", get_str(&r, "folder")?),
        });
    }
    let sql =
        format!("SELECT s.line AS line FROM import_rows s WHERE NOT {BAD_FOLDER} AND {BUILTIN}");
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
    {
        errors.push(RowError {
            line: count(get_i64(&r, "line")?),
            message: "the built-in administrator cannot be blocked or moved to another area".into(),
        });
    }
    let sql = format!(
        "SELECT s.line AS line, s.cur_login AS login, s.cur_area AS area FROM import_rows s \
         WHERE NOT {BAD_FOLDER} AND NOT {BUILTIN} AND {HOLDS}"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
    {
        errors.push(RowError {
            line: count(get_i64(&r, "line")?),
            message: format!(
                "user {} holds licenses in area {}; recall them before changing the area",
                get_str(&r, "login")?,
                get_str(&r, "area")?
            ),
        });
    }

    // Area limits: places that rows free (blocking, leaving the area) count first, then the
    // rows that take a place do so in file order until the area is full.
    let mut freed: BTreeMap<Area, u64> = BTreeMap::new();
    let sql = format!(
        "SELECT s.cur_area AS area, COUNT(*) AS n FROM import_rows s WHERE {FREES_PLACE} \
         GROUP BY s.cur_area"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
    {
        freed.insert(parse(&get_str(&r, "area")?)?, count(get_i64(&r, "n")?));
    }
    let mut room: BTreeMap<Area, (u64, u64)> = BTreeMap::new();
    for r in sqlx::query("SELECT area, active_users, user_limit FROM area_counters")
        .fetch_all(&mut **tx)
        .await?
    {
        let area: Area = parse(&get_str(&r, "area")?)?;
        if let Some(limit) = get_opt_i64(&r, "user_limit")?.map(count) {
            let active = count(get_i64(&r, "active_users")?)
                .saturating_sub(freed.get(&area).copied().unwrap_or(0));
            room.insert(area, (limit.saturating_sub(active), limit));
        }
    }
    if !room.is_empty() {
        let allowed = |a: Area| {
            Val::Int(
                room.get(&a)
                    .map_or(i64::MAX, |r| i64::try_from(r.0).unwrap_or(i64::MAX)),
            )
        };
        let sql = format!(
            "SELECT line, area FROM (SELECT s.line AS line, s.area AS area, \
             ROW_NUMBER() OVER (PARTITION BY s.area ORDER BY s.line) AS rk FROM import_rows s \
             WHERE {TAKES_PLACE} AND NOT {BAD_FOLDER} AND NOT {BUILTIN} AND NOT {HOLDS}) t \
             WHERE rk > CASE area WHEN 'employee' THEN $1 ELSE $2 END"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let q = crate::db::bind(q, allowed(Area::Employee));
        let q = crate::db::bind(q, allowed(Area::Portal));
        for r in q.fetch_all(&mut **tx).await? {
            let area: Area = parse(&get_str(&r, "area")?)?;
            let limit = room.get(&area).map_or(0, |r| r.1);
            errors.push(RowError {
                line: count(get_i64(&r, "line")?),
                message: format!("area {area} would exceed its user limit of {limit}"),
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    Ok(errors)
}

/// Applies the checked rows: seats of users being blocked are freed, then updates that free
/// places, then the other updates, then the new users (so the area counters' trigger sees
/// places freed before they are taken), and an audit record per created or changed user.
async fn apply(
    tx: &mut Tx,
    now: time::OffsetDateTime,
    actor: &Actor,
    tree: &FolderTree,
) -> Result<CsvImportReport> {
    let sql = format!(
        "SELECT COALESCE(SUM(CASE WHEN s.user_id IS NULL THEN 1 ELSE 0 END), 0) AS created, \
         COALESCE(SUM(CASE WHEN {CHANGED} THEN 1 ELSE 0 END), 0) AS updated, \
         COALESCE(SUM(CASE WHEN s.user_id IS NOT NULL AND NOT {CHANGED} THEN 1 ELSE 0 END), 0) \
         AS unchanged FROM import_rows s"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    let report = CsvImportReport {
        created: count(get_i64(&row, "created")?),
        updated: count(get_i64(&row, "updated")?),
        unchanged: count(get_i64(&row, "unchanged")?),
    };

    // A blocked user is logged out at once: their sessions and seats end with them (U3).
    let blocked = format!("SELECT s.user_id FROM import_rows s WHERE {BLOCKS}");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM floating_holds WHERE session_id IN \
         (SELECT id FROM sessions WHERE user_id IN ({blocked}))"
    )))
    .execute(&mut **tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM sessions WHERE user_id IN ({blocked})"
    )))
    .execute(&mut **tx)
    .await?;
    let mut freed: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM assignments WHERE user_id IN ({blocked}) RETURNING user_id, product_code"
    )))
    .fetch_all(&mut **tx)
    .await?
    {
        freed
            .entry(get_i64(&r, "user_id")?)
            .or_default()
            .push(get_str(&r, "product_code")?);
    }
    // The few users who lost seats get the products in their audit record.
    for (user_id, mut products) in freed {
        products.sort();
        let r = sqlx::query("SELECT area, folder_id, state FROM import_rows WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
        let area: Area = parse(&get_str(&r, "area")?)?;
        let folder = tree.path(FolderId(get_opt_i64(&r, "folder_id")?.unwrap_or(0)));
        sqlx::query("UPDATE import_rows SET updated_details = $1 WHERE user_id = $2")
            .bind(details(
                area,
                &folder,
                &get_str(&r, "state")?,
                Some(&products),
            ))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }

    for frees in ["", "NOT "] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET name = s.name, email = s.email, area = s.area, \
             folder_id = s.folder_id, state = s.state, block_reason = CASE WHEN s.state = 'blocked' \
             THEN COALESCE(users.block_reason, 'import') ELSE NULL END \
             FROM import_rows s WHERE users.id = s.user_id AND {CHANGED} \
             AND {frees}(s.state = 'blocked' OR s.area <> s.cur_area)"
        )))
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO users (login, name, email, area, folder_id, state, block_reason, created_at) \
         SELECT s.login, s.name, s.email, s.area, s.folder_id, s.state, \
         CASE WHEN s.state = 'blocked' THEN 'import' ELSE NULL END, $1 \
         FROM import_rows s WHERE s.user_id IS NULL ORDER BY s.line",
    )
    .bind(crate::db::ts(now))
    .execute(&mut **tx)
    .await?;
    audit_select(
        tx,
        now,
        actor,
        &format!(
            "SELECT CASE WHEN s.user_id IS NULL THEN 'user.create' ELSE 'user.update' END AS action, \
             COALESCE(s.cur_login, s.login) AS target, \
             CASE WHEN s.user_id IS NULL THEN s.created_details ELSE s.updated_details END AS details \
             FROM import_rows s WHERE s.user_id IS NULL OR {CHANGED} ORDER BY s.line"
        ),
        Vec::new(),
    )
    .await?;
    Ok(report)
}
