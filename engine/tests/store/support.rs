//! Small helpers: a new movie by name, a store on a fresh database.

use engine::db::Store;
use engine::test_util::{Backend, TestDb};
use engine::{Caller, NewMovie};
use serde_json::Map;

/// A fresh database and a store on it.
pub(crate) fn fresh(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend);
    let store = db.store();
    (db, store)
}

/// A new movie called `name` with an optional rank.
pub(crate) fn movie(name: &str, rank: Option<i64>) -> NewMovie {
    NewMovie {
        uuid: None,
        name: name.to_owned(),
        url: format!("http://example.com/{}.mp4", name.len()),
        rank,
        meta: Map::new(),
    }
}

/// The unscoped caller (trusted infrastructure): every movie, no owner.
pub(crate) fn anyone() -> Caller {
    Caller::unscoped()
}
