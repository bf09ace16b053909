//! Engine objects → response bodies: the movie as it is, and listings with
//! their `next` link.

use engine::objects::{ListQuery, Movie, SortDir, SortKey};
use serde_json::{Value, json};

/// `{"movies": [...], "next": "<url>"}`; `next` only when more remain.
/// `movies` holds up to `query.limit + 1` entries: an extra one only says
/// that another page exists and is not shown; `more` says so too when the
/// engine ended the page early (to keep its reply small).
pub(crate) fn movie_list(
    base: &str,
    query: &ListQuery,
    mut movies: Vec<Movie>,
    more: bool,
) -> Value {
    let limit = query.limit as usize;
    let more = more || movies.len() > limit;
    movies.truncate(limit);
    let mut body = json!({ "movies": movies });
    if more && let Some(last) = movies.last() {
        body["next"] = Value::String(next_link(base, query, &last.id.to_string()));
    }
    body
}

fn next_link(base: &str, query: &ListQuery, marker: &str) -> String {
    let sort_key = match query.sort_key {
        SortKey::Name => "name",
        SortKey::Rank => "rank",
        SortKey::CreatedAt => "created_at",
    };
    let sort_dir = match query.sort_dir {
        SortDir::Asc => "asc",
        SortDir::Desc => "desc",
    };
    let mut link = format!(
        "{base}/v1/movies?limit={}&marker={marker}&sort_key={sort_key}&sort_dir={sort_dir}",
        query.limit
    );
    if let Some(state) = query.state {
        link.push_str("&state=");
        link.push_str(state.as_str());
    }
    if query.all_projects {
        link.push_str("&all_projects=true");
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::objects::MovieState;

    fn movie(n: u128) -> Movie {
        Movie {
            id: uuid::Uuid::from_u128(n),
            name: format!("m{n}"),
            rank: None,
            url: "http://e.com/a".into(),
            state: MovieState::Queued,
            size: None,
            bytes_downloaded: 0,
            checksum: None,
            error: None,
            meta: Default::default(),
            created_at: "2026-11-27T00:00:00Z".into(),
            updated_at: "2026-11-27T00:00:00Z".into(),
            project_id: None,
            user_id: None,
        }
    }

    #[test]
    fn next_appears_only_when_more_remain() {
        let query = ListQuery {
            limit: 2,
            ..ListQuery::default()
        };
        let full = movie_list(
            "http://h",
            &query,
            vec![movie(1), movie(2), movie(3)],
            false,
        );
        assert_eq!(full["movies"].as_array().map(Vec::len), Some(2));
        let next = full["next"].as_str().expect("next");
        assert!(
            next.starts_with(
                "http://h/v1/movies?limit=2&marker=00000000-0000-0000-0000-000000000002"
            )
        );
        let last = movie_list("http://h", &query, vec![movie(1), movie(2)], false);
        assert!(last.get("next").is_none());
        let cut = movie_list("http://h", &query, vec![movie(1)], true);
        assert!(
            cut["next"]
                .as_str()
                .is_some_and(|next| next.contains("marker=00000000-0000-0000-0000-000000000001"))
        );
    }
}
