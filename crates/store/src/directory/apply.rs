//! Writing a sync plan: `apply_directory_plan` and its steps, in short chunks of users with
//! set-based statements (see the module above for what is loaded and recorded).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use seatkeeper_core::directory::{RoleKind, SyncPlan, reason};
use seatkeeper_core::distribution::{ManualGrants, ROOT_ROLE};
use seatkeeper_core::events::{Event, EventType};
use seatkeeper_core::{Area, UserState};
use serde_json::json;

use super::{
    DIRECTORY_CHUNK_USERS, DirectorySyncCounts, DirectorySyncReport, close_interrupted,
    directory_users, key,
};
use crate::db::{Audit, Tx, audit, execute_in, fetch_in, get_i64, get_str, insert_rows, ts};
use crate::distribution::redistribute_users_in;
use crate::folders::FolderTree;
use crate::messages::post_message;
use crate::reconcile::reconcile_holding_room;
use crate::room::{check_room, rooms};
use crate::settings::distribution_settings_in;
use crate::sql_value::Val;
use crate::users::free_seats_of;
use crate::{Actor, Ledger, Result};

impl Ledger {
    /// Writes a sync plan (I1, U2, D5), in short transactions of at most
    /// [`DIRECTORY_CHUNK_USERS`] users each, in the order of the plan's meaning
    /// (`seatkeeper_core::directory::apply`): deletes and blocks free room first, then
    /// creates, activations (oldest first), updates, roles, memberships, and last the
    /// redistribution for `plan.touched`. An empty plan (nothing touched) writes nothing.
    ///
    /// Interrupted midway, the ledger is consistent after every chunk; the next sync plans
    /// against what was written and completes it, and closes the run as `interrupted`.
    pub async fn apply_directory_plan(
        &self,
        actor: &Actor,
        plan: &SyncPlan,
    ) -> Result<DirectorySyncReport> {
        // `touched` alone: users to redistribute (D5) after an interrupted run.
        if plan.is_empty() && plan.touched.is_empty() {
            return Ok(DirectorySyncReport::default());
        }
        let run_id = {
            let now = self.now();
            let mut tx = self.begin_write().await?;
            close_interrupted(&mut tx, now, false).await?;
            let row = sqlx::query(
                "INSERT INTO directory_runs (started_at, status, preview, owner) \
                 VALUES ($1, 'running', 0, $2) RETURNING id",
            )
            .bind(ts(now))
            .bind(crate::process::this_process().to_string())
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            get_i64(&row, "id")?
        };
        match self.apply_steps(actor, plan).await {
            Ok(mut counts) => {
                let now = self.now();
                let mut tx = self.begin_write().await?;
                // U2: room the plan left (users it does not own, skipped entries) goes to
                // whoever still waits for it, as after any event that frees room.
                counts.activated += crate::room::activate_waiting(&mut tx, now, actor)
                    .await?
                    .len() as u64;
                let body = json!(counts);
                audit(
                    &mut tx,
                    now,
                    actor,
                    vec![Audit::new("directory.sync", "directory", body.clone())],
                )
                .await?;
                post_message(
                    &mut tx,
                    now,
                    "directory",
                    &format!(
                        "Directory sync: {} created, {} updated, {} blocked, {} activated",
                        counts.created, counts.updated, counts.blocked, counts.activated
                    ),
                    &body,
                )
                .await?;
                crate::outbox::emit(
                    &mut tx,
                    now,
                    &Event::new(
                        EventType::DirectorySyncCompleted,
                        &json!({"run": run_id, "counts": body}),
                    ),
                )
                .await?;
                sqlx::query(
                    "UPDATE directory_runs SET status = 'succeeded', finished_at = $1, \
                     counts = $2 WHERE id = $3",
                )
                .bind(ts(now))
                .bind(body.to_string())
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(DirectorySyncReport {
                    run_id: Some(run_id),
                    counts,
                })
            }
            Err(e) => {
                // Best effort: the error the caller sees is the sync's, not this one's.
                if let Ok(mut tx) = self.begin_write().await {
                    let done = sqlx::query(
                        "UPDATE directory_runs SET status = 'failed', finished_at = $1, \
                         error = $2 WHERE id = $3",
                    )
                    .bind(ts(self.now()))
                    .bind(e.to_string())
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await;
                    let failed = Event::new(
                        EventType::DirectorySyncFailed,
                        &json!({"run": run_id, "error": e.to_string()}),
                    );
                    let raised = crate::outbox::emit(&mut tx, self.now(), &failed).await;
                    if done.is_ok() && raised.is_ok() {
                        let _ = tx.commit().await;
                    }
                }
                Err(e)
            }
        }
    }

    async fn apply_steps(&self, actor: &Actor, plan: &SyncPlan) -> Result<DirectorySyncCounts> {
        let mut c = DirectorySyncCounts {
            skipped: plan.skipped.len() as u64,
            ..Default::default()
        };
        // Folders first, all in one short transaction: there are few, and every later chunk
        // then only resolves paths.
        let paths: BTreeSet<&str> = plan
            .create
            .iter()
            .map(|n| n.folder.as_str())
            .chain(plan.update.iter().filter_map(|u| u.folder.as_deref()))
            .collect();
        let mut tree = {
            let mut tx = self.begin_write().await?;
            let mut tree = FolderTree::load(&mut tx).await?;
            for p in &paths {
                tree.ensure(&mut tx, p).await?;
            }
            tx.commit().await?;
            tree
        };

        for chunk in plan.delete.chunks(DIRECTORY_CHUNK_USERS) {
            c.deleted += self.take_out_chunk(actor, chunk, None).await?;
            self.yield_to_writers().await;
        }
        let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for b in &plan.block {
            by_reason
                .entry(b.reason.as_str())
                .or_default()
                .push(b.login.clone());
        }
        for (reason, logins) in &by_reason {
            for chunk in logins.chunks(DIRECTORY_CHUNK_USERS) {
                c.blocked += self.take_out_chunk(actor, chunk, Some(reason)).await?;
                self.yield_to_writers().await;
            }
        }

        let at = Instant::now();
        for chunk in plan.create.chunks(DIRECTORY_CHUNK_USERS) {
            // A login someone created since the plan (by hand, CSV) is theirs: that entry is
            // skipped, as the planner skips one it sees, instead of failing the run. Looking
            // the chunk's logins up first would cost a query per chunk (a scan on PostgreSQL
            // while the new rows' statistics are not in yet: a second per 500 logins), so
            // the chunk is written at once, and only when the unique index refuses it is it
            // written again with the lookup.
            match self.create_chunk(chunk, &mut tree, &mut c, false).await {
                Err(e) if e.is_unique_violation() => {
                    self.create_chunk(chunk, &mut tree, &mut c, true).await?;
                }
                other => other?,
            }
            self.yield_to_writers().await;
        }

        step_done("create", at, plan.create.len());
        for chunk in plan.activate.chunks(DIRECTORY_CHUNK_USERS) {
            let now = self.now();
            let mut tx = self.begin_write().await?;
            let found = directory_users(&mut tx, chunk).await?;
            let mut room = rooms(&mut tx).await?;
            let mut take: BTreeMap<Area, Vec<(i64, String)>> = BTreeMap::new();
            let mut waiting: Vec<Val> = Vec::new();
            for login in chunk {
                let Some((id, area, state, why)) = found.get(&key(login)) else {
                    continue;
                };
                // Only users waiting for a reason the sync owns: a hand block stays.
                if *state != UserState::Blocked || !reason::is_sync_owned(why.as_deref()) {
                    continue;
                }
                match room.get_mut(area) {
                    // Full: the rest of this area waits for a later sync, oldest first.
                    Some(Some(r)) if *r <= 0 => {
                        c.not_activated += 1;
                        waiting.push(Val::Int(*id));
                    }
                    Some(Some(r)) => {
                        *r -= 1;
                        take.entry(*area).or_default().push((*id, login.clone()));
                    }
                    _ => take.entry(*area).or_default().push((*id, login.clone())),
                }
            }
            let mut entries = Vec::new();
            for (area, users) in &take {
                check_room(&mut tx, *area, users.len() as u64, now).await?;
                let ids: Vec<Val> = users.iter().map(|(id, _)| Val::Int(*id)).collect();
                c.activated += execute_in(
                    &mut tx,
                    "UPDATE users SET state = 'active', block_reason = NULL WHERE id IN ({ids})",
                    &ids,
                )
                .await?;
                entries.extend(
                    users
                        .iter()
                        .map(|(_, l)| Audit::new("user.activate", l, json!({}))),
                );
            }
            // Those that did not fit wait as the plan's own overflow does: `license_limit`
            // (a removed or disabled user that came back keeps no stale reason).
            execute_in(
                &mut tx,
                "UPDATE users SET block_reason = 'license_limit' WHERE id IN ({ids})",
                &waiting,
            )
            .await?;
            audit(&mut tx, now, actor, entries).await?;
            tx.commit().await?;
            self.yield_to_writers().await;
        }

        let at = Instant::now();
        for chunk in plan.update.chunks(DIRECTORY_CHUNK_USERS) {
            let mut tx = self.begin_write().await?;
            let found = directory_users(
                &mut tx,
                &chunk.iter().map(|u| u.login.clone()).collect::<Vec<_>>(),
            )
            .await?;
            let mut rows = Vec::with_capacity(chunk.len());
            for u in chunk {
                let Some((id, ..)) = found.get(&key(&u.login)) else {
                    continue;
                };
                let folder = match &u.folder {
                    Some(f) => Some(tree.ensure(&mut tx, f).await?.0),
                    None => None,
                };
                rows.push(vec![
                    Val::Int(*id),
                    Val::OptText(u.name.clone()),
                    Val::OptText(u.email.clone()),
                    Val::OptInt(folder),
                    Val::OptText(u.dn.clone()),
                ]);
            }
            c.updated += rows.len() as u64;
            // One statement per slice of rows: the new values arrive as a VALUES list
            // joined on the user id (columns column1…column5 on both backends).
            for part in rows.chunks(50) {
                let values: Vec<String> = (0..part.len())
                    .map(|i| format!("({})", crate::db::placeholders(i * 5 + 1, 5)))
                    .collect();
                let sql = format!(
                    "UPDATE users SET name = COALESCE(v.column2, users.name), \
                     email = COALESCE(v.column3, users.email), \
                     folder_id = COALESCE(v.column4, users.folder_id), \
                     directory_dn = COALESCE(v.column5, users.directory_dn) \
                     FROM (VALUES {}) AS v WHERE users.id = v.column1",
                    values.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for v in part.iter().flatten() {
                    q = crate::db::bind(q, v.clone());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            self.yield_to_writers().await;
        }

        step_done("update", at, plan.update.len());
        let at = Instant::now();
        self.apply_roles(plan, &mut c).await?;
        step_done("roles", at, plan.roles_create.len());
        let at = Instant::now();
        self.apply_members(plan, &mut c).await?;
        step_done(
            "members",
            at,
            plan.add_members.len() + plan.remove_members.len(),
        );
        let at = Instant::now();
        self.redistribute_touched(actor, plan, &mut c).await?;
        step_done("redistribute", at, plan.touched.len());
        Ok(c)
    }

    /// Creates a chunk of the plan's new users in one transaction; the counts are added to
    /// `c` only when it commits. `look_up_taken`: skip the logins that exist already (the
    /// second try, after the unique index refused the first).
    async fn create_chunk(
        &self,
        chunk: &[seatkeeper_core::directory::NewUser],
        tree: &mut FolderTree,
        c: &mut DirectorySyncCounts,
        look_up_taken: bool,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let mut room = rooms(&mut tx).await?;
        let mut filling: BTreeMap<Area, u64> = BTreeMap::new();
        let mut rows = Vec::with_capacity(chunk.len());
        let taken = if look_up_taken {
            taken_logins(&mut tx, chunk.iter().map(|n| n.login.as_str())).await?
        } else {
            BTreeSet::new()
        };
        let mut done = DirectorySyncCounts::default();
        for n in chunk {
            if taken.contains(&key(&n.login)) {
                done.skipped += 1;
                continue;
            }
            // The planner counted the room; re-checked here under the write lock so a
            // login or an administrator's change since the plan cannot overrun the limit.
            let mut blocked = n.blocked.clone();
            if blocked.is_none() {
                match room.get_mut(&n.area) {
                    Some(Some(r)) if *r <= 0 => {
                        blocked = Some(reason::LICENSE_LIMIT.to_string());
                    }
                    Some(Some(r)) => {
                        *r -= 1;
                        *filling.entry(n.area).or_default() += 1;
                    }
                    _ => {}
                }
            }
            if blocked.is_some() {
                done.created_blocked += 1;
            }
            rows.push(vec![
                Val::Text(n.login.clone()),
                Val::Text(if n.name.is_empty() {
                    n.login.clone()
                } else {
                    n.name.clone()
                }),
                Val::Text(n.email.clone()),
                Val::Text(n.area.as_str().to_string()),
                Val::Int(tree.ensure(&mut tx, &n.folder).await?.0),
                Val::Text(
                    if blocked.is_some() {
                        "blocked"
                    } else {
                        "active"
                    }
                    .to_string(),
                ),
                Val::OptText(blocked),
                Val::Int(ts(now)),
                Val::Text(n.dn.clone()),
                Val::Text("directory".to_string()),
            ]);
        }
        // check_room posts the "area is full" message (N2) when these fill it.
        for (area, n) in &filling {
            check_room(&mut tx, *area, *n, now).await?;
        }
        done.created += rows.len() as u64;
        insert_rows(
            &mut tx,
            "INSERT INTO users (login, name, email, area, folder_id, state, block_reason, \
             created_at, directory_dn, source)",
            10,
            rows,
        )
        .await?;
        tx.commit().await?;
        c.created += done.created;
        c.created_blocked += done.created_blocked;
        c.skipped += done.skipped;
        Ok(())
    }

    /// Blocks (`Some(reason)`) or deletes (`None`) a chunk of directory users through the
    /// same steps as `take_out` for one: their seats freed (sessions ended, S4), a suspended
    /// holder served by reconcile, one `user.block` / `user.delete` audit record each.
    async fn take_out_chunk(
        &self,
        actor: &Actor,
        logins: &[String],
        block: Option<&str>,
    ) -> Result<u64> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let found = directory_users(&mut tx, logins).await?;
        let mut users: Vec<(i64, String)> = logins
            .iter()
            .filter_map(|l| found.get(&key(l)).map(|u| (u.0, l.clone())))
            .collect();
        users.sort();
        users.dedup();
        if users.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = users.iter().map(|(id, _)| *id).collect();
        let mut freed = free_seats_of(&mut tx, &ids).await?;
        let vals: Vec<Val> = ids.iter().map(|id| Val::Int(*id)).collect();
        let n = match block {
            Some(reason) => {
                let sql =
                    "UPDATE users SET state = 'blocked', block_reason = $1 WHERE id IN ({ids})";
                let mut n = 0;
                for part in vals.chunks(crate::db::CHUNK) {
                    let sql = sql.replace("{ids}", &crate::db::placeholders(2, part.len()));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reason.to_string());
                    for v in part {
                        q = crate::db::bind(q, v.clone());
                    }
                    n += q.execute(&mut *tx).await?.rows_affected();
                }
                n
            }
            None => execute_in(&mut tx, "DELETE FROM users WHERE id IN ({ids})", &vals).await?,
        };
        let entries = users
            .iter()
            .map(|(id, login)| {
                let freed = freed.remove(id).unwrap_or_default();
                match block {
                    Some(reason) => Audit::new(
                        "user.block",
                        login,
                        json!({"reason": reason, "freed": freed}),
                    ),
                    None => Audit::new("user.delete", login, json!({"freed": freed})),
                }
            })
            .collect();
        // The room this frees is the plan's to hand out (its activations come next);
        // whatever is still free when the sync ends goes to waiting users then.
        reconcile_holding_room(&mut tx, now).await?;
        audit(&mut tx, now, actor, entries).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Creates and re-parents roles: there are few (one per group), so one transaction.
    async fn apply_roles(&self, plan: &SyncPlan, c: &mut DirectorySyncCounts) -> Result<()> {
        if plan.roles_create.is_empty() && plan.roles_reparent.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let mut ids = role_ids(&mut tx).await?;
        let parent_of = |ids: &HashMap<String, i64>, parent: &Option<String>, kind: RoleKind| {
            match parent.as_ref().and_then(|p| ids.get(&p.to_lowercase())) {
                Some(id) => Some(*id),
                // Organizational roles always hang in the tree under "All employees".
                None if kind == RoleKind::Organizational => Some(ROOT_ROLE),
                None => None,
            }
        };
        for r in &plan.roles_create {
            let row = sqlx::query(
                "INSERT INTO roles (name, kind, parent_id, directory_dn) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(r.name.clone())
            .bind(r.kind.as_str().to_string())
            .bind(parent_of(&ids, &r.parent, r.kind))
            .bind(r.dn.clone())
            .fetch_one(&mut *tx)
            .await?;
            ids.insert(r.name.to_lowercase(), get_i64(&row, "id")?);
            c.roles_created += 1;
        }
        for rp in &plan.roles_reparent {
            let Some(id) = ids.get(&rp.role.to_lowercase()).copied() else {
                continue;
            };
            let kind: String = sqlx::query("SELECT kind FROM roles WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(crate::StoreError::from)
                .and_then(|r| get_str(&r, "kind"))?;
            let kind = if kind == "functional" {
                RoleKind::Functional
            } else {
                RoleKind::Organizational
            };
            sqlx::query("UPDATE roles SET parent_id = $1 WHERE id = $2")
                .bind(parent_of(&ids, &rp.parent, kind))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            c.roles_reparented += 1;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes, then adds memberships, a chunk of memberships per transaction, one statement
    /// per role and slice of logins: the database finds the users (directory users only)
    /// and skips memberships already there, in the same statement.
    async fn apply_members(&self, plan: &SyncPlan, c: &mut DirectorySyncCounts) -> Result<()> {
        const ADD: &str = "INSERT INTO role_members (role_id, user_id) SELECT $1, id FROM users \
             WHERE source = 'directory' AND builtin = 0 AND lower(login) IN ({ids}) \
             ON CONFLICT DO NOTHING";
        const REMOVE: &str = "DELETE FROM role_members WHERE role_id = $1 AND user_id IN \
             (SELECT id FROM users WHERE source = 'directory' AND builtin = 0 \
             AND lower(login) IN ({ids}))";
        for (list, on) in [(&plan.remove_members, false), (&plan.add_members, true)] {
            for chunk in list.chunks(DIRECTORY_CHUNK_USERS) {
                let mut tx = self.begin_write().await?;
                let roles = role_ids(&mut tx).await?;
                // Lists are sorted by role: a chunk holds few roles.
                let mut per_role: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
                for m in chunk {
                    if let Some(r) = roles.get(&m.role.to_lowercase()) {
                        per_role.entry(*r).or_default().insert(key(&m.login));
                    }
                }
                for (role, logins) in per_role {
                    let logins: Vec<String> = logins.into_iter().collect();
                    for part in logins.chunks(crate::db::CHUNK) {
                        let sql = if on { ADD } else { REMOVE }
                            .replace("{ids}", &crate::db::placeholders(2, part.len()));
                        // Not kept prepared: the lists' lengths vary, and a cache of
                        // statements with hundreds of parameters each costs megabytes.
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .persistent(false)
                            .bind(role);
                        for l in part {
                            q = q.bind(l.clone());
                        }
                        let n = q.execute(&mut *tx).await?.rows_affected();
                        if on {
                            c.members_added += n;
                        } else {
                            c.members_removed += n;
                        }
                    }
                }
                tx.commit().await?;
                self.yield_to_writers().await;
            }
        }
        Ok(())
    }

    /// D5: a redistribution for exactly the users the sync touched, keeping manual grants,
    /// when role-based distribution is on; a chunk of users per transaction.
    async fn redistribute_touched(
        &self,
        actor: &Actor,
        plan: &SyncPlan,
        c: &mut DirectorySyncCounts,
    ) -> Result<()> {
        // Borrowed, copied a chunk at a time: a first sync touches every user.
        let touched: Vec<&String> = plan.touched.iter().collect();
        for chunk in touched.chunks(DIRECTORY_CHUNK_USERS) {
            let chunk: Vec<String> = chunk.iter().map(|l| (*l).clone()).collect();
            let now = self.now();
            let mut tx = self.begin_write().await?;
            if !distribution_settings_in(&mut tx)
                .await?
                .role_based_distribution
            {
                return Ok(());
            }
            let mut ids: Vec<i64> = directory_users(&mut tx, &chunk)
                .await?
                .values()
                .map(|u| u.0)
                .collect();
            ids.sort_unstable();
            if ids.is_empty() {
                continue;
            }
            let r = redistribute_users_in(&mut tx, now, actor, ids, ManualGrants::Keep).await?;
            c.redistributed += r.users;
            c.granted += r.granted;
            c.recalled += r.recalled;
            tx.commit().await?;
            self.yield_to_writers().await;
        }
        Ok(())
    }
}

/// Logs how long a step of writing a plan took (debug: the benchmark's breakdown), with the
/// process's peak memory so far (Linux `VmHWM`; 0 elsewhere).
fn step_done(step: &str, since: Instant, items: usize) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let peak_kib: u64 = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    tracing::debug!(
        step,
        ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
        items,
        peak_mib = peak_kib / 1024,
        "directory apply step done"
    );
}

/// Role ids by lower-cased name.
async fn role_ids(tx: &mut Tx) -> Result<HashMap<String, i64>> {
    sqlx::query("SELECT id, name FROM roles")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((get_str(r, "name")?.to_lowercase(), get_i64(r, "id")?)))
        .collect()
}

/// Which of `logins` (lower-cased) are users already, whatever their source.
async fn taken_logins<'a>(
    tx: &mut Tx,
    logins: impl Iterator<Item = &'a str>,
) -> Result<BTreeSet<String>> {
    let vals: Vec<Val> = logins.map(|l| Val::Text(key(l))).collect();
    fetch_in(
        tx,
        "SELECT lower(login) AS l FROM users WHERE lower(login) IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?
    .iter()
    .map(|r| get_str(r, "l"))
    .collect()
}
