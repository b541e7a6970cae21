//! The one-time setup token's hash (the token itself is only in the state dir and the log).

use diesel::prelude::*;

use crate::db::schema::setup_token;

/// The pending setup token.
pub struct SetupToken;

impl SetupToken {
    /// The stored hash, when a token is pending.
    pub fn hash(conn: &mut PgConnection) -> QueryResult<Option<Vec<u8>>> {
        setup_token::table
            .select(setup_token::token_hash)
            .first(conn)
            .optional()
    }

    /// Replaces any pending token.
    pub fn replace(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<usize> {
        diesel::insert_into(setup_token::table)
            .values((
                setup_token::id.eq(1i16),
                setup_token::token_hash.eq(token_hash),
            ))
            .on_conflict(setup_token::id)
            .do_update()
            .set((
                setup_token::token_hash.eq(token_hash),
                setup_token::created_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// Burns the token, returning the hash it had (row locked for the rest of the transaction).
    pub fn take(conn: &mut PgConnection) -> QueryResult<Option<Vec<u8>>> {
        let hash: Option<Vec<u8>> = setup_token::table
            .select(setup_token::token_hash)
            .for_update()
            .first(conn)
            .optional()?;
        diesel::delete(setup_token::table).execute(conn)?;
        Ok(hash)
    }
}

/// File in the state dir holding the pending setup token (mode 0600).
pub const SETUP_TOKEN_FILE: &str = "setup-token";

/// Makes sure a setup token is pending while no admin exists. Returns the token and whether it
/// was made just now, or `None` once setup is done (then the file is removed).
pub fn ensure_setup_token(
    conn: &mut PgConnection,
    state_dir: &std::path::Path,
) -> anyhow::Result<Option<(String, bool)>> {
    use crate::crypto::random;
    use crate::db::models::admin_user::AdminUser;

    let path = state_dir.join(SETUP_TOKEN_FILE);
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7164032)").execute(conn)?;
        if AdminUser::any_exists(conn)? {
            diesel::delete(setup_token::table).execute(conn)?;
            remove_token_file(state_dir);
            return Ok(None);
        }
        let stored = SetupToken::hash(conn)?;
        if let (Ok(existing), Some(hash)) = (std::fs::read_to_string(&path), stored) {
            let existing = existing.trim().to_owned();
            if random::constant_time_eq(&random::token_hash(&existing), &hash) {
                return Ok(Some((existing, false)));
            }
        }
        let token = random::token(32);
        SetupToken::replace(conn, &random::token_hash(&token))?;
        write_private(&path, &token)?;
        Ok(Some((token, true)))
    })
}

/// Removes the setup token file (after setup completed).
pub fn remove_token_file(state_dir: &std::path::Path) {
    let _ = std::fs::remove_file(state_dir.join(SETUP_TOKEN_FILE));
}

/// Writes `content` to `path` with mode 0600 (temp file + rename).
fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    })();
    if let Err(e) = written {
        // a full disk fails on the write, not the open: name the file and leave no stub behind
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("cannot write {}: {e}", tmp.display());
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
