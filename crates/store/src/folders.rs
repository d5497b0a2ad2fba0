//! The folder tree (X1, data part): users live in one folder; package seats can be placed in
//! folders, the rest stay in the root.

use std::collections::BTreeMap;

use seatkeeper_core::{
    Error as DomainError, FolderId, ROOT_FOLDER, split_folder_path, validate_folder_name,
};
use serde_json::json;

use crate::db::{Audit, Tx, audit, count, get_i64, get_opt_i64, get_str};
use crate::{Actor, FolderView, Ledger, Result};

/// The whole tree, loaded at once: it is small, and paths need every ancestor.
#[derive(Debug, Clone, Default)]
pub(crate) struct FolderTree {
    nodes: BTreeMap<i64, (Option<i64>, String)>,
}

impl FolderTree {
    pub async fn load(tx: &mut Tx) -> Result<FolderTree> {
        Self::load_on(tx).await
    }

    pub async fn load_on(conn: &mut sqlx::AnyConnection) -> Result<FolderTree> {
        let rows = sqlx::query("SELECT id, parent_id, name FROM folders")
            .fetch_all(&mut *conn)
            .await?;
        let mut nodes = BTreeMap::new();
        for r in rows {
            nodes.insert(
                get_i64(&r, "id")?,
                (get_opt_i64(&r, "parent_id")?, get_str(&r, "name")?),
            );
        }
        Ok(FolderTree { nodes })
    }

    /// "Sales/North", or "/" for the root.
    pub fn path(&self, id: FolderId) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id.0);
        // The depth bound guards against a cycle written by hand into the database.
        for _ in 0..1024 {
            let Some(c) = cur else { break };
            let Some((parent, name)) = self.nodes.get(&c) else {
                break;
            };
            if parent.is_some() {
                parts.push(name.as_str());
            }
            cur = *parent;
        }
        if parts.is_empty() {
            return "/".to_string();
        }
        parts.reverse();
        parts.join("/")
    }

    fn child(&self, parent: i64, name: &str) -> Option<i64> {
        self.nodes
            .iter()
            .find(|(_, (p, n))| *p == Some(parent) && n == name)
            .map(|(id, _)| *id)
    }

    pub fn resolve(&self, path: &str) -> Result<FolderId> {
        let mut cur = ROOT_FOLDER.0;
        for name in split_folder_path(path)? {
            cur = self
                .child(cur, name)
                .ok_or_else(|| DomainError::UnknownFolder(path.to_string()))?;
        }
        Ok(FolderId(cur))
    }

    /// The folder at `path`, created with any missing parents (create_folder, the directory
    /// sync); "" or "/" is the root.
    pub async fn ensure(&mut self, tx: &mut Tx, path: &str) -> Result<FolderId> {
        let mut cur = ROOT_FOLDER.0;
        for name in split_folder_path(path)? {
            validate_folder_name(name)?;
            cur = match self.child(cur, name) {
                Some(id) => id,
                None => {
                    let row = sqlx::query(
                        "INSERT INTO folders (parent_id, name) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(cur)
                    .bind(name.to_string())
                    .fetch_one(&mut **tx)
                    .await?;
                    let id = get_i64(&row, "id")?;
                    self.nodes.insert(id, (Some(cur), name.to_string()));
                    id
                }
            };
        }
        Ok(FolderId(cur))
    }

    fn has_children(&self, id: i64) -> bool {
        self.nodes.values().any(|(p, _)| *p == Some(id))
    }
}

impl Ledger {
    /// Creates a folder by path; missing parents are created too.
    pub async fn create_folder(&self, actor: &Actor, path: &str) -> Result<FolderView> {
        let parts = split_folder_path(path)?;
        if parts.is_empty() {
            return Err(DomainError::Invalid("the root folder always exists".into()).into());
        }
        let mut tx = self.begin_write().await?;
        let mut tree = FolderTree::load(&mut tx).await?;
        if tree.resolve(path).is_ok() {
            return Err(DomainError::DuplicateFolder(path.to_string()).into());
        }
        let cur = tree.ensure(&mut tx, path).await?.0;
        let path = tree.path(FolderId(cur));
        audit(
            &mut tx,
            self.now(),
            actor,
            vec![Audit::new("folder.create", &path, json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(FolderView {
            id: cur,
            path,
            parent_id: tree.nodes.get(&cur).and_then(|n| n.0),
            users: 0,
        })
    }

    pub async fn folders(&self) -> Result<Vec<FolderView>> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let tree = FolderTree::load(&mut tx).await?;
        let mut users: BTreeMap<i64, u64> = BTreeMap::new();
        for r in sqlx::query("SELECT folder_id, COUNT(*) AS n FROM users GROUP BY folder_id")
            .fetch_all(&mut *tx)
            .await?
        {
            users.insert(get_i64(&r, "folder_id")?, count(get_i64(&r, "n")?));
        }
        let mut out: Vec<FolderView> = tree
            .nodes
            .iter()
            .map(|(id, (parent, _))| FolderView {
                id: *id,
                path: tree.path(FolderId(*id)),
                parent_id: *parent,
                users: users.get(id).copied().unwrap_or(0),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Deletes an empty folder: no sub-folders, no users, no placed seats.
    pub async fn delete_folder(&self, actor: &Actor, path: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let id = tree.resolve(path)?;
        let in_use = |reason: &str| DomainError::FolderInUse {
            folder: path.to_string(),
            reason: reason.to_string(),
        };
        if id == ROOT_FOLDER {
            return Err(in_use("is the root and cannot be deleted").into());
        }
        if tree.has_children(id.0) {
            return Err(in_use("has sub-folders; delete them first").into());
        }
        for (sql, reason) in [
            (
                "SELECT COUNT(*) AS n FROM users WHERE folder_id = $1",
                "holds users; move them first",
            ),
            (
                "SELECT COUNT(*) AS n FROM package_placements WHERE folder_id = $1",
                "holds placed seats; place them elsewhere first",
            ),
            (
                "SELECT COUNT(*) AS n FROM assignments WHERE folder_id = $1",
                "holds assignments of its seats",
            ),
        ] {
            let row = sqlx::query(sql).bind(id.0).fetch_one(&mut *tx).await?;
            if get_i64(&row, "n")? > 0 {
                return Err(in_use(reason).into());
            }
        }
        sqlx::query("DELETE FROM seat_pools WHERE folder_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM folders WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            self.now(),
            actor,
            vec![Audit::new("folder.delete", tree.path(id), json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
