//! Databases and API state for the tests: a scratch database per test, the API's state with
//! its folders in the test's own folder, and users with a token.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use matthan::access::{self, Role};
use matthan::api::{router, AppState};
use matthan::store::scratch::ScratchDatabase;
use matthan::store::{trust, Store};
use tower::ServiceExt;

/// A fresh, migrated database named after `tag`, dropped by the test when it is done.
pub async fn scratch(tag: &str) -> ScratchDatabase {
    ScratchDatabase::create(tag, &super::test_pg_dir())
        .await
        .expect("a PostgreSQL server (DATABASE_URL, 127.0.0.1:5432, or initdb for a private one)")
}

/// API state for `store` with its clips, snapshots, exports and web folders under `dir`.
pub fn app_state(store: Store, dir: &Path) -> AppState {
    AppState::new(
        store,
        &dir.join("clips"),
        &dir.join("snapshots"),
        &dir.join("exports"),
        &dir.join("web"),
        None,
    )
    .unwrap()
}

/// Adds user `name` with `role` (and `password`, when given, for the login page) and returns
/// a new API token of theirs.
pub async fn add_user(store: &Store, name: &str, role: Role, password: Option<&str>) -> String {
    let client = store.client().await.unwrap();
    let hash = password.map(|p| access::hash_password(p).unwrap());
    let id = trust::create_user(&client, name, role, hash.as_deref())
        .await
        .unwrap();
    let token = access::new_token().unwrap();
    trust::add_token(&client, id, &token.sha256, "test", None)
        .await
        .unwrap();
    token.secret
}

/// GET `uri` with `token`: status, headers, body.
pub async fn get_as(
    state: &AppState,
    token: &str,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(state.clone())
        .oneshot(
            Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}
