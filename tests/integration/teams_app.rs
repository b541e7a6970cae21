//! The Teams app package an admin downloads from `/admin/teams-app`: a zip Teams accepts (files at
//! the root, a manifest passing the §6.5 rules, icons of the right sizes and colours), the same id
//! on every download and a version that goes up exactly when the package changes.

use std::io::Read;

use diesel::prelude::*;
use jira_teams_bridge::db::models::teams_app_package::TeamsAppPackage;
use jira_teams_bridge::domain::teams_manifest;
use serde_json::{Value, json};

use crate::fakes;
use crate::support::app::{TestApp, location, spawn_app};
use crate::support::jwt::call;
use crate::support::world::save_microsoft;
use crate::support::world::{ALICE_KEY, World, world_with};

const INTERNAL: &str = "https://teams-bridge.corp.example";
const BOT_ID: &str = "6f2f0f2e-8f0b-4e35-9a7e-5a8b1e1f0c11";
const HELPDESK: &str = "69000be7-4659-4659-900e-3cebf257ec5a";
const FACILITIES: &str = "0d3c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01";

async fn configured_world() -> World {
    world_with(|s| s.listen.internal_url = INTERNAL.into()).await
}

/// Saves the Microsoft registration again with another bot app id (the stored secret is kept).
async fn set_bot_app_id(app: &TestApp, bot: &str) {
    let res = save_microsoft(app, "global", "", bot, "").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Creates (201) or replaces (200) a JSM portal app through the Jira app's API.
async fn put_portal_app(w: &World, id: &str, tab: &str, status: u16) {
    let res = call(
        &w.app,
        &w.jira_app,
        "PUT",
        &format!("/api/v1/jsm/portal-apps/{id}"),
        ALICE_KEY,
        Some(json!({"icon": "icon3", "deskIds": ["14"], "tabName": tab})),
    )
    .await;
    assert_eq!(res.status(), status, "{}", res.text().await.unwrap());
}

struct Package {
    bytes: Vec<u8>,
    names: Vec<String>,
    manifest: Value,
    color: Vec<u8>,
    outline: Vec<u8>,
}

async fn download(app: &TestApp) -> Package {
    let res = app.get("/admin/teams-app/package.zip").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename="),
        "{disposition}"
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut file = |name: &str| {
        let mut out = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut out).unwrap();
        out
    };
    let manifest = serde_json::from_slice(&file("manifest.json")).unwrap();
    let (color, outline) = (file("color.png"), file("outline.png"));
    Package {
        bytes,
        names,
        manifest,
        color,
        outline,
    }
}

/// Width, height and RGBA pixels of a PNG.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<[u8; 4]>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba, "icons are RGBA");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    (info.width, info.height, pixels)
}

#[actix_web::test]
async fn the_admin_downloads_a_package_teams_accepts() {
    let w = configured_world().await;
    set_bot_app_id(&w.app, BOT_ID).await;
    put_portal_app(&w, HELPDESK, "Helpdesk", 201).await;

    let page = w.app.get("/admin/teams-app").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("The package is ready."), "{html}");
    assert!(html.contains("<a href=\"/admin/teams-app\">Teams app</a>"));
    assert!(html.contains(&format!("{INTERNAL}/teams/portal/{HELPDESK}")));

    let p = download(&w.app).await;
    let mut names = p.names.clone();
    names.sort();
    assert_eq!(
        names,
        ["color.png", "manifest.json", "outline.png"],
        "all at the root"
    );

    let m = &p.manifest;
    assert_eq!(teams_manifest::validate(m), Ok(()));
    assert_eq!(m["manifestVersion"], "1.22");
    assert_eq!(m["version"], "1.0.0");
    assert_eq!(m["bots"][0]["botId"], BOT_ID);
    assert_eq!(
        m["bots"][0]["scopes"],
        json!(["personal", "team", "groupChat"])
    );
    assert_eq!(m["composeExtensions"][0]["botId"], BOT_ID);
    // the fake Jira DC runs at http://127.0.0.1:<port>/jira: host only
    assert_eq!(
        m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"],
        json!(["127.0.0.1"])
    );
    let ids: Vec<&str> = m["composeExtensions"][0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["search", "createFromMessage", "commentFromMessage"]);
    assert_eq!(
        m["staticTabs"],
        json!([{
            "entityId": HELPDESK,
            "name": "Helpdesk",
            "contentUrl": format!("{INTERNAL}/teams/portal/{HELPDESK}"),
            "scopes": ["personal"]
        }])
    );
    assert_eq!(m["validDomains"], json!(["teams-bridge.corp.example"]));
    assert_eq!(m["webApplicationInfo"]["id"], fakes::entra::CLIENT_ID);
    assert_eq!(
        m["webApplicationInfo"]["resource"],
        format!(
            "api://teams-bridge.corp.example/{}",
            fakes::entra::CLIENT_ID
        )
    );
    let commands: Vec<&str> = m["bots"][0]["commandLists"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["commands"].as_array().unwrap())
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    for c in [
        "help",
        "link",
        "unlink",
        "create",
        "find",
        "subscribe",
        "unsubscribe",
        "notifications",
    ] {
        assert!(commands.contains(&c), "{c} is offered");
    }

    let (w1, h1, _) = decode(&p.color);
    assert_eq!((w1, h1), (192, 192));
    let (w2, h2, pixels) = decode(&p.outline);
    assert_eq!((w2, h2), (32, 32));
    assert!(
        pixels
            .iter()
            .all(|&px| px[3] == 0 || px == [255, 255, 255, 255]),
        "the outline is pure white on fully transparent"
    );
    assert!(pixels.iter().any(|px| px[3] == 255), "and not empty");
}

fn stored(app: &TestApp) -> Option<TeamsAppPackage> {
    TeamsAppPackage::get(&mut app.db.conn()).unwrap()
}

#[actix_web::test]
async fn the_id_stays_and_the_version_goes_up_only_when_the_package_changes() {
    let w = configured_world().await;
    put_portal_app(&w, HELPDESK, "Helpdesk", 201).await;
    let first = download(&w.app).await;
    let again = download(&w.app).await;
    let id = first.manifest["id"].as_str().unwrap().to_owned();
    assert_eq!(again.manifest["id"], id.as_str());
    assert_eq!(again.manifest["version"], "1.0.0");
    assert_eq!(again.bytes, first.bytes, "the same package, byte for byte");
    // viewing the page changes nothing either
    assert_eq!(w.app.get("/admin/teams-app").await.status(), 200);
    assert_eq!(stored(&w.app).unwrap().version, "1.0.0");

    put_portal_app(&w, FACILITIES, "Facilities", 201).await;
    let more = download(&w.app).await;
    assert_eq!(
        more.manifest["id"],
        id.as_str(),
        "Teams sees an update, not a new app"
    );
    assert_eq!(more.manifest["version"], "1.0.1");
    let tabs: Vec<&str> = more.manifest["staticTabs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tabs, ["Facilities", "Helpdesk"]);
    assert_eq!(download(&w.app).await.manifest["version"], "1.0.1");

    // a renamed tab, then a disabled instance (its host and portal apps leave the package)
    put_portal_app(&w, HELPDESK, "Service desk", 200).await;
    assert_eq!(download(&w.app).await.manifest["version"], "1.0.2");
    let res = w
        .app
        .post_form(&format!("/admin/instances/{}/disable", w.instance_id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let off = download(&w.app).await;
    assert_eq!(off.manifest["version"], "1.0.3");
    assert_eq!(off.manifest["id"], id.as_str());
    assert!(off.manifest.get("staticTabs").is_none());
    assert!(
        off.manifest["composeExtensions"][0]
            .get("messageHandlers")
            .is_none()
    );
    assert_eq!(teams_manifest::validate(&off.manifest), Ok(()));
}

#[actix_web::test]
async fn the_package_and_its_page_need_an_admin_session() {
    let w = configured_world().await;
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/admin/teams-app", "/admin/teams-app/package.zip"] {
        let res = stranger.get(w.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/login");
    }
    assert!(stored(&w.app).is_none(), "nothing was made");
}

#[actix_web::test]
async fn a_missing_configuration_is_named_and_no_zip_is_made() {
    // a fresh appliance: plain http, no Microsoft registration
    let app = spawn_app().await;
    app.complete_setup().await;
    let html = app.get("/admin/teams-app").await.text().await.unwrap();
    assert!(html.contains("The package cannot be made yet"), "{html}");
    assert!(html.contains("No Microsoft app registration"));
    assert!(html.contains("only over https"));
    let res = app.get("/admin/teams-app/package.zip").await;
    assert_eq!(res.status(), 409);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("cannot be made yet"), "{body}");
    assert!(body.contains("No Microsoft app registration"));
    assert!(stored(&app).is_none());

    // https and a registration, but no bot app id
    let w = configured_world().await;
    set_bot_app_id(&w.app, "").await;
    let html = w.app.get("/admin/teams-app").await.text().await.unwrap();
    assert!(html.contains("No bot app id"), "{html}");
    assert!(!html.contains("only over https"));
    let res = w.app.get("/admin/teams-app/package.zip").await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("No bot app id"));
    assert!(stored(&w.app).is_none());
}

#[test]
fn the_package_table_keeps_one_row_with_a_semver_version() {
    let db = crate::support::db::TestDb::migrated();
    let mut conn = db.conn();
    let first = TeamsAppPackage::settle(&mut conn, &[1; 32]).unwrap();
    assert_eq!(first.version, "1.0.0");
    let same = TeamsAppPackage::settle(&mut conn, &[1; 32]).unwrap();
    assert_eq!(
        (same.manifest_id, same.version),
        (first.manifest_id, first.version.clone())
    );
    let next = TeamsAppPackage::settle(&mut conn, &[2; 32]).unwrap();
    assert_eq!(
        (next.manifest_id, next.version.as_str()),
        (first.manifest_id, "1.0.1")
    );
    let refused = [
        "INSERT INTO teams_app_package (manifest_id, version, content_sha256) VALUES (gen_random_uuid(), '1.0.0', decode(repeat('ab', 32), 'hex'))",
        "UPDATE teams_app_package SET version = '1.0'",
        "UPDATE teams_app_package SET version = '01.0.0'",
        "UPDATE teams_app_package SET content_sha256 = 'x'",
    ];
    for sql in refused {
        assert!(diesel::sql_query(sql).execute(&mut conn).is_err(), "{sql}");
    }
}
