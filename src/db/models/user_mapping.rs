//! Jira user ↔ Microsoft user links.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::keyset::{self, Page, RowCount, Window, seek_by};
use crate::db::schema::user_mapping;

/// A link between a Jira user of one instance and a Microsoft user.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_mapping)]
pub struct UserMapping {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub jira_user_key: String,
    pub ms_tenant_id: Uuid,
    pub ms_user_id: Uuid,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ms_user_name: Option<String>,
    pub jira_user_name: Option<String>,
    pub status_detail: Option<String>,
    /// How many times the link lapsed (went from `linked` to `needs_reauth`).
    pub lapse_count: i32,
}

/// Which sign-in of a link lapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Microsoft,
    Jira,
}

impl SignIn {
    /// The name outbox payloads carry (`microsoft`, `jira`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignIn::Microsoft => "microsoft",
            SignIn::Jira => "jira",
        }
    }
}

/// Queues lapse `lapse`'s messages: one to the user's 1:1 chat, one to each channel that the
/// user's subscriptions feed (all of that channel's projects in it). Keyed by the lapse, so a
/// repeat queues nothing.
fn queue_lapse_messages(
    conn: &mut PgConnection,
    id: Uuid,
    instance: Uuid,
    tenant: Uuid,
    ms_user: Uuid,
    lapse: i32,
    sign_in: SignIn,
) -> QueryResult<()> {
    use super::outbox::OutboxItem;
    use super::outbox_kind::{LINK_LAPSED, LINK_LAPSED_CHANNEL, conversation_order, user_order};
    use crate::db::schema::channel_subscription as cs;
    let subs: Vec<(String, String)> = cs::table
        .filter(cs::owner_mapping_id.eq(id))
        .order((cs::conversation_id.asc(), cs::project_key.asc()))
        .select((cs::conversation_id, cs::project_key))
        .load(conn)?;
    let mut channels: Vec<(String, Vec<String>)> = Vec::new();
    for (conversation, project) in subs {
        match channels.last_mut() {
            Some((c, projects)) if *c == conversation => projects.push(project),
            _ => channels.push((conversation, vec![project])),
        }
    }
    let mut all: Vec<&String> = channels.iter().flat_map(|(_, p)| p).collect();
    all.sort();
    all.dedup();
    let payload = serde_json::json!({
        "mappingId": id,
        "lapse": lapse,
        "signIn": sign_in.as_str(),
        "tenantId": tenant,
        "aadObjectId": ms_user,
    });
    let mut personal = payload.clone();
    personal["projects"] = serde_json::json!(all);
    personal["channels"] = serde_json::json!(channels.len());
    OutboxItem::enqueue_ordered(
        conn,
        LINK_LAPSED,
        Some(instance),
        &format!("lapse:{id}:{lapse}"),
        &personal,
        Some(&user_order(ms_user)),
    )?;
    for (conversation, projects) in channels {
        let mut payload = payload.clone();
        payload["conversationId"] = serde_json::json!(conversation);
        payload["projects"] = serde_json::json!(projects);
        OutboxItem::enqueue_ordered(
            conn,
            LINK_LAPSED_CHANNEL,
            Some(instance),
            &format!("lapse:{id}:{lapse}:{conversation}"),
            &payload,
            Some(&conversation_order(&conversation)),
        )?;
    }
    Ok(())
}

/// A new or renewed link.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub instance: Uuid,
    pub jira_user_key: &'a str,
    pub jira_user_name: &'a str,
    pub ms_tenant_id: Uuid,
    pub ms_user_id: Uuid,
    pub ms_user_name: &'a str,
}

/// Why a link could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("This Microsoft account is already linked to another Jira user of this instance.")]
    MicrosoftAccountTaken,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl UserMapping {
    /// The link of a Jira user, if any.
    pub fn find(
        conn: &mut PgConnection,
        instance: Uuid,
        jira_user_key: &str,
    ) -> QueryResult<Option<UserMapping>> {
        user_mapping::table
            .filter(user_mapping::jira_instance_id.eq(instance))
            .filter(user_mapping::jira_user_key.eq(jira_user_key))
            .select(UserMapping::as_select())
            .first(conn)
            .optional()
    }

    /// Links (or re-links) a Jira user to a Microsoft user; status back to `linked`.
    pub fn link(conn: &mut PgConnection, l: &NewLink<'_>) -> Result<UserMapping, LinkError> {
        use diesel::result::{DatabaseErrorKind, Error};
        let values = (
            user_mapping::ms_tenant_id.eq(l.ms_tenant_id),
            user_mapping::ms_user_id.eq(l.ms_user_id),
            user_mapping::ms_user_name.eq(l.ms_user_name),
            user_mapping::jira_user_name.eq(l.jira_user_name),
            user_mapping::status.eq("linked"),
            user_mapping::status_detail.eq(None::<String>),
            user_mapping::updated_at.eq(diesel::dsl::now),
        );
        diesel::insert_into(user_mapping::table)
            .values((
                user_mapping::id.eq(Uuid::new_v4()),
                user_mapping::jira_instance_id.eq(l.instance),
                user_mapping::jira_user_key.eq(l.jira_user_key),
                values.clone(),
            ))
            .on_conflict((user_mapping::jira_instance_id, user_mapping::jira_user_key))
            .do_update()
            .set(values)
            .returning(UserMapping::as_returning())
            .get_result(conn)
            .map_err(|e| match e {
                Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    LinkError::MicrosoftAccountTaken
                }
                e => LinkError::Db(e),
            })
    }

    /// Marks the link as needing a new sign-in (consent withdrawn, refresh token dead), with a
    /// short reason for the admin page. Only the move from `linked` counts as a lapse: it bumps
    /// `lapse_count` and, in the same transaction, queues the one message that tells the user
    /// (and each channel their subscriptions feed) — so of concurrent marks, in one daemon or
    /// several, only the first queues anything, and a link already lapsed stays as first marked.
    /// Returns whether this call was that first mark.
    pub fn mark_needs_reauth(
        conn: &mut PgConnection,
        id: Uuid,
        sign_in: SignIn,
        why: &str,
    ) -> QueryResult<bool> {
        let why: String = why.chars().take(255).collect();
        conn.transaction(|conn| {
            let lapsed: Option<(Uuid, Uuid, Uuid, i32)> = diesel::update(
                user_mapping::table
                    .find(id)
                    .filter(user_mapping::status.eq("linked")),
            )
            .set((
                user_mapping::status.eq("needs_reauth"),
                user_mapping::status_detail.eq(why),
                user_mapping::updated_at.eq(diesel::dsl::now),
                user_mapping::lapse_count.eq(user_mapping::lapse_count + 1),
            ))
            .returning((
                user_mapping::jira_instance_id,
                user_mapping::ms_tenant_id,
                user_mapping::ms_user_id,
                user_mapping::lapse_count,
            ))
            .get_result(conn)
            .optional()?;
            let Some((instance, tenant, ms_user, lapse)) = lapsed else {
                return Ok(false);
            };
            queue_lapse_messages(conn, id, instance, tenant, ms_user, lapse, sign_in)?;
            Ok(true)
        })
    }

    /// One link by id.
    pub fn get(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<UserMapping>> {
        user_mapping::table
            .find(id)
            .select(UserMapping::as_select())
            .first(conn)
            .optional()
    }

    /// Links of an instance by Microsoft user ids. Looked up through the
    /// `(jira_instance_id, ms_tenant_id, ms_user_id)` unique index: the instance's tenants are
    /// found by a skip scan of its prefix (one index probe per tenant, usually one), then each
    /// `(tenant, user)` pair directly, however many users the instance has linked.
    pub fn by_ms_users(
        conn: &mut PgConnection,
        instance: Uuid,
        ms_users: &[Uuid],
    ) -> QueryResult<Vec<UserMapping>> {
        #[derive(QueryableByName)]
        struct Tenant {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            ms_tenant_id: Uuid,
        }
        if ms_users.is_empty() {
            return Ok(Vec::new());
        }
        let tenants: Vec<Uuid> = diesel::sql_query(
            "WITH RECURSIVE t(ms_tenant_id) AS ( \
               (SELECT ms_tenant_id FROM user_mapping WHERE jira_instance_id = $1 \
                 ORDER BY ms_tenant_id LIMIT 1) \
               UNION ALL \
               SELECT (SELECT m.ms_tenant_id FROM user_mapping m \
                        WHERE m.jira_instance_id = $1 AND m.ms_tenant_id > t.ms_tenant_id \
                        ORDER BY m.ms_tenant_id LIMIT 1) \
                 FROM t WHERE t.ms_tenant_id IS NOT NULL) \
             SELECT ms_tenant_id FROM t WHERE ms_tenant_id IS NOT NULL",
        )
        .bind::<diesel::sql_types::Uuid, _>(instance)
        .load::<Tenant>(conn)?
        .into_iter()
        .map(|t| t.ms_tenant_id)
        .collect();
        user_mapping::table
            .filter(user_mapping::jira_instance_id.eq(instance))
            .filter(user_mapping::ms_tenant_id.eq_any(tenants))
            .filter(user_mapping::ms_user_id.eq_any(ms_users))
            .select(UserMapping::as_select())
            .load(conn)
    }

    /// Every link of one Microsoft user (all instances), each with its instance, oldest first.
    pub fn of_microsoft_user(
        conn: &mut PgConnection,
        tenant: Uuid,
        ms_user: Uuid,
    ) -> QueryResult<Vec<(UserMapping, super::jira_instance::JiraInstance)>> {
        use crate::db::schema::jira_instance;
        user_mapping::table
            .inner_join(jira_instance::table)
            .filter(user_mapping::ms_tenant_id.eq(tenant))
            .filter(user_mapping::ms_user_id.eq(ms_user))
            .order(user_mapping::created_at.asc())
            .select((
                UserMapping::as_select(),
                super::jira_instance::JiraInstance::as_select(),
            ))
            .load(conn)
    }

    /// Up to `limit` working links of an instance, oldest first (index
    /// `user_mapping_linked_idx`: `limit` entries read, however many users are linked).
    pub fn page_of_instance(
        conn: &mut PgConnection,
        instance: Uuid,
        limit: i64,
    ) -> QueryResult<Vec<UserMapping>> {
        user_mapping::table
            .filter(user_mapping::jira_instance_id.eq(instance))
            .filter(user_mapping::status.eq("linked"))
            .order((user_mapping::created_at.asc(), user_mapping::id.asc()))
            .limit(limit)
            .select(UserMapping::as_select())
            .load(conn)
    }

    /// Links of an instance by Jira user keys.
    pub fn by_jira_users(
        conn: &mut PgConnection,
        instance: Uuid,
        keys: &[String],
    ) -> QueryResult<Vec<UserMapping>> {
        user_mapping::table
            .filter(user_mapping::jira_instance_id.eq(instance))
            .filter(user_mapping::jira_user_key.eq_any(keys))
            .select(UserMapping::as_select())
            .load(conn)
    }

    /// The page `window` of links for the admin list, most recently changed first, on the
    /// `(updated_at, id)` index.
    pub fn page(
        conn: &mut PgConnection,
        window: &Window<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> QueryResult<Page<UserMapping>> {
        keyset::read(window, limit, |s| {
            seek_by!(
                user_mapping::table.into_boxed(),
                s,
                desc = true,
                user_mapping::updated_at,
                user_mapping::id
            )
            .select(UserMapping::as_select())
            .load(conn)
        })
    }

    /// Number of links: exact on a small site, the planner's estimate on a big one.
    pub fn count(conn: &mut PgConnection) -> QueryResult<RowCount> {
        keyset::table_size(conn, "user_mapping")
    }

    /// Removes one link by id (admin unlink); tokens go with it.
    pub fn delete_by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        Ok(diesel::delete(user_mapping::table.find(id)).execute(conn)? == 1)
    }

    /// Removes the link; the user's tokens go with it (ON DELETE CASCADE).
    pub fn delete(
        conn: &mut PgConnection,
        instance: Uuid,
        jira_user_key: &str,
    ) -> QueryResult<bool> {
        let n = diesel::delete(
            user_mapping::table
                .filter(user_mapping::jira_instance_id.eq(instance))
                .filter(user_mapping::jira_user_key.eq(jira_user_key)),
        )
        .execute(conn)?;
        Ok(n > 0)
    }
}

/// The most user links counted for one instance on the admin overview; more show as "10,000+".
pub const LINKED_USERS_CAP: i64 = 10_000;

impl UserMapping {
    /// How many users of an instance are linked, counting at most `cap + 1` rows (the
    /// `(jira_instance_id, jira_user_key)` unique index gives them): never an exact count over
    /// a big table. A result above `cap` means "more than `cap`".
    pub fn count_capped(conn: &mut PgConnection, instance: Uuid, cap: i64) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Counted {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let row: Counted = diesel::sql_query(
            "SELECT count(*) AS n FROM \
               (SELECT 1 FROM user_mapping WHERE jira_instance_id = $1 LIMIT $2) capped",
        )
        .bind::<diesel::sql_types::Uuid, _>(instance)
        .bind::<diesel::sql_types::BigInt, _>(cap.saturating_add(1))
        .get_result(conn)?;
        Ok(row.n)
    }
}
