//! Admin lists are keyset paged (`after=`, `before=`, `at=last`) and show their size as an
//! exact count on a small site, "10,000+" or "about N" on a big one: walking a list forward or
//! back shows every row once, in order, even while new rows arrive at its head.

use crate::support::app::{TestApp, spawn_app};
use diesel::prelude::*;

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.db.conn()).unwrap();
}

/// The link of a pager (`rel` = first, prev, next, last), unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// Every `prefix` + `width` characters on the page, in page order.
fn marks(html: &str, prefix: &str, width: usize) -> Vec<String> {
    html.match_indices(prefix)
        .map(|(i, _)| html[i..i + prefix.len() + width].to_owned())
        .collect()
}

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// Follows `rel` links from `start` to the end; the marks of each page in the order visited.
async fn walk(
    app: &TestApp,
    start: &str,
    rel: &str,
    prefix: &str,
    width: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut at = Some(start.to_owned());
    while let Some(path) = at {
        let html = page(app, &path).await;
        pages.push(marks(&html, prefix, width));
        at = link(&html, rel);
        assert!(pages.len() < 50, "the walk does not end");
    }
    pages
}

/// Walks forward from the first page and back from the last: both show `expected` exactly.
async fn walk_both_ways(
    app: &TestApp,
    base: &str,
    prefix: &str,
    width: usize,
    expected: &[String],
) {
    let forward = walk(app, base, "next", prefix, width).await;
    assert_eq!(forward.concat(), expected, "forward from {base}");
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut back = walk(app, &format!("{base}{sep}at=last"), "prev", prefix, width).await;
    back.reverse();
    assert_eq!(back.concat(), expected, "back from the last page of {base}");
    assert!(forward.len() > 1, "{base} has more than one page");
    assert!(
        forward.iter().chain(&back).all(|p| p.len() <= 50),
        "at most 50 rows a page"
    );
}

/// `n` audit rows marked `walk-0001` (oldest) … `walk-{n}`; even ones read an access token,
/// odd ones a refresh token; every tenth names the same secret row.
fn seed_audit(app: &TestApp, from: i64, to: i64) {
    exec(
        app,
        &format!(
            "INSERT INTO secret_access_audit (actor_kind, actor, secret_kind, secret_table, secret_row, purpose, outcome) \
             SELECT 'job', 'test', CASE WHEN g % 2 = 0 THEN 'access_token' ELSE 'refresh_token' END, 'access_token', \
                    CASE WHEN g % 10 = 0 THEN '6f1c2a4e-0000-4000-8000-000000000010'::uuid ELSE gen_random_uuid() END, \
                    'walk-' || lpad(g::text, 4, '0'), 'ok' \
               FROM generate_series({from}, {to}) g"
        ),
    );
}

fn expected(range: impl DoubleEndedIterator<Item = i64>, prefix: &str) -> Vec<String> {
    range.rev().map(|g| format!("{prefix}{g:04}")).collect()
}

#[actix_web::test]
async fn walking_the_audit_log_shows_every_row_once_in_order_with_and_without_filters() {
    let app = spawn_app().await;
    app.complete_setup().await;
    seed_audit(&app, 1, 130);
    walk_both_ways(
        &app,
        "/admin/audit",
        "walk-",
        4,
        &expected(1..=130, "walk-"),
    )
    .await;
    let evens: Vec<String> = expected(1..=130, "walk-")
        .into_iter()
        .filter(|m| m[5..].parse::<i64>().unwrap() % 2 == 0)
        .collect();
    walk_both_ways(&app, "/admin/audit?kind=access_token", "walk-", 4, &evens).await;
    let first = page(&app, "/admin/audit?kind=access_token").await;
    assert!(
        first.contains("65 rows"),
        "a filtered total is exact below 10,000"
    );
    let next = link(&first, "next").unwrap();
    assert!(
        next.contains("kind=access_token") && next.contains("after="),
        "{next}"
    );
    let one = page(
        &app,
        "/admin/audit?secret=6f1c2a4e-0000-4000-8000-000000000010",
    )
    .await;
    let tens: Vec<String> = (1..=13)
        .rev()
        .map(|g| format!("walk-{:04}", g * 10))
        .collect();
    assert_eq!(marks(&one, "walk-", 4), tens);
    assert!(one.contains("13 rows") && link(&one, "next").is_none());
}

#[actix_web::test]
async fn rows_arriving_at_the_head_are_neither_repeated_nor_skipped_while_paging() {
    let app = spawn_app().await;
    app.complete_setup().await;
    seed_audit(&app, 1, 120);
    let mut seen = Vec::new();
    let mut html = page(&app, "/admin/audit").await;
    let mut newer = 1000;
    loop {
        seen.extend(marks(&html, "walk-", 4));
        // a busy site: new reads are logged between two clicks (page numbers would shift)
        seed_audit(&app, newer, newer + 29);
        newer += 30;
        let Some(next) = link(&html, "next") else {
            break;
        };
        html = page(&app, &next).await;
    }
    assert_eq!(seen, expected(1..=120, "walk-"));
}

#[actix_web::test]
async fn the_failed_deliveries_are_walked_most_recent_first_and_big_figures_are_estimated() {
    let app = spawn_app().await;
    app.complete_setup().await;
    // the figures below depend on when the planner last looked at the table: only when told
    exec(&app, "ALTER TABLE outbox SET (autovacuum_enabled = false)");
    // three items fail in each minute: ties on updated_at are ordered by id, newest first
    exec(
        &app,
        "INSERT INTO outbox (kind, payload, status, attempts, last_error, updated_at) \
         SELECT 'test.dead', jsonb_build_object('chatId', '19:dead-' || lpad(g::text, 4, '0') || '@thread.v2'), \
                'dead', 5, 'boom', date_trunc('minute', now()) - ((g / 3) || ' minutes')::interval \
           FROM generate_series(1, 120) g",
    );
    let mut order: Vec<i64> = (1..=120).collect();
    order.sort_by_key(|g| (g / 3, -g));
    let want: Vec<String> = order.iter().map(|g| format!("dead-{g:04}")).collect();
    walk_both_ways(&app, "/admin/outbox", "dead-", 4, &want).await;
    let first = page(&app, "/admin/outbox").await;
    assert!(
        first.contains("<dd id=\"dead\">120</dd>"),
        "failed for good"
    );
    assert!(
        first.contains("<dd id=\"done\">0</dd>"),
        "nothing delivered yet"
    );
    assert!(first.contains("120 rows"));

    exec(
        &app,
        "INSERT INTO outbox (kind, payload, status) SELECT 'test.done', '{}', 'done' FROM generate_series(1, 10001)",
    );
    let capped = page(&app, "/admin/outbox").await;
    assert!(
        capped.contains("<dd id=\"done\">10,000+</dd>"),
        "a capped count"
    );
    exec(&app, "ANALYZE outbox");
    let estimated = page(&app, "/admin/outbox").await;
    assert!(
        estimated.contains("<dd id=\"done\">about 10,000</dd>"),
        "the planner's estimate"
    );
    assert!(
        estimated.contains("<dd id=\"dead\">120</dd>"),
        "dead items stay exact"
    );
}

#[actix_web::test]
async fn an_inventory_table_and_the_linked_users_are_walked_in_order() {
    let app = spawn_app().await;
    app.complete_setup().await;
    app.register_instance("https://jira.example.com").await;
    // four chats linked each minute: ties on created_at are ordered by id
    exec(
        &app,
        "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id, created_at) \
         SELECT gen_random_uuid(), (SELECT id FROM jira_instance), g, 'jira-user', \
                '19:chat-' || lpad(g::text, 4, '0') || '@thread.v2', \
                date_trunc('minute', now()) - ((g / 4) || ' minutes')::interval \
           FROM generate_series(1, 130) g",
    );
    #[derive(QueryableByName)]
    struct Issue {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        issue_id: i64,
    }
    let want: Vec<String> =
        diesel::sql_query("SELECT issue_id FROM issue_chat ORDER BY created_at DESC, id DESC")
            .load::<Issue>(&mut app.db.conn())
            .unwrap()
            .into_iter()
            .map(|i| format!("chat-{:04}", i.issue_id))
            .collect();
    walk_both_ways(&app, "/admin/data/issue_chat", "chat-", 4, &want).await;

    exec(
        &app,
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, updated_at) \
         SELECT gen_random_uuid(), (SELECT id FROM jira_instance), 'user-' || lpad(g::text, 4, '0'), \
                gen_random_uuid(), gen_random_uuid(), now() - (g || ' seconds')::interval \
           FROM generate_series(1, 75) g",
    );
    // most recently changed first
    let users: Vec<String> = (1..=75).map(|g| format!("user-{g:04}")).collect();
    walk_both_ways(&app, "/admin/users", "user-", 4, &users).await;
}

#[actix_web::test]
async fn a_malformed_page_link_is_a_400_and_an_old_page_number_shows_the_first_page() {
    let app = spawn_app().await;
    app.complete_setup().await;
    for path in [
        "/admin/audit?after=abc",
        "/admin/audit?before=1.2",
        "/admin/audit?after=1&before=2",
        "/admin/audit?at=middle",
        "/admin/outbox?after=12",
        "/admin/outbox?before=x.1",
        "/admin/users?after=1734000000000000.not-a-uuid",
        "/admin/data/issue_chat?after=1734000000000000",
        "/admin/data/teams_user_setting?before=1.zz",
        "/admin/data/secret_access_audit?after=99999999999999999999",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 400, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("This page link is not valid"),
            "{path}: {html}"
        );
    }
    for path in [
        "/admin/audit?page=3",
        "/admin/users?page=2",
        "/admin/outbox?page=abc",
        "/admin/data/issue_chat?page=9",
        "/admin/audit?after=",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

#[actix_web::test]
async fn the_dashboard_counts_exactly_on_a_small_site_and_estimates_a_big_table() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let row = |html: &str| {
        crate::support::app::between(
            html,
            "<a href=\"/admin/data/secret_access_audit\">Secret access audit</a></td><td class=\"num\">",
            "</td>",
        )
    };
    exec(
        &app,
        "ALTER TABLE secret_access_audit SET (autovacuum_enabled = false)",
    );
    seed_audit(&app, 1, 7);
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let small: N = diesel::sql_query("SELECT count(*) AS n FROM secret_access_audit")
        .get_result(&mut app.db.conn())
        .unwrap();
    assert_eq!(
        row(&page(&app, "/admin").await),
        small.n.to_string(),
        "exact when small"
    );
    assert!(
        page(&app, "/admin/audit")
            .await
            .contains(&format!("{} rows", small.n))
    );

    seed_audit(&app, 8, 10_001);
    let dash = page(&app, "/admin").await;
    assert_eq!(row(&dash), "10,000+", "counted up to the cap, not further");
    assert!(
        page(&app, "/admin/data")
            .await
            .contains("<td class=\"num\">10,000+</td>")
    );
    assert!(page(&app, "/admin/audit").await.contains("10,000+ rows"));
    exec(&app, "ANALYZE secret_access_audit");
    assert_eq!(
        row(&page(&app, "/admin").await),
        "about 10,000",
        "the planner's estimate"
    );
    assert!(
        page(&app, "/admin/audit")
            .await
            .contains("about 10,000 rows")
    );
    assert!(
        page(&app, "/admin/audit?kind=access_token")
            .await
            .contains("5,000 rows"),
        "a filtered list is counted, up to the cap"
    );
    let instances = crate::support::app::between(
        &dash,
        "<a href=\"/admin/data/jira_instance\">Jira instances</a></td><td class=\"num\">",
        "</td>",
    );
    assert_eq!(instances, "0", "a small table stays exact");
}
