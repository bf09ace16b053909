//! Keystone v3's token document (`{"token": {...}}`) → who the caller is.

use serde::Deserialize;

use super::Verdict;
use crate::auth::Identity;

#[derive(Deserialize)]
struct Document {
    token: Token,
}

#[derive(Deserialize)]
struct Token {
    expires_at: String,
    user: Option<Named>,
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Role>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
}

#[derive(Deserialize)]
struct Role {
    name: String,
}

/// A validated token: the verdict and when the token expires (Unix seconds).
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) verdict: Verdict,
    pub(super) expires_at: i64,
}

/// Reads the answer to `GET /v3/auth/tokens`.
pub(super) fn parse(body: &[u8]) -> Result<Parsed, String> {
    let document: Document = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let token = document.token;
    let expires_at = seconds(&token.expires_at)?;
    let user = token.user.ok_or("the token has no user")?;
    let verdict = match token.project {
        Some(project) if !project.id.is_empty() => Verdict::Valid(Identity {
            user_id: user.id,
            project_id: project.id,
            roles: token.roles.into_iter().map(|role| role.name).collect(),
        }),
        _ => Verdict::NoProject,
    };
    Ok(Parsed {
        verdict,
        expires_at,
    })
}

/// The expiry of a token document (the answer to `POST /v3/auth/tokens`).
pub(super) fn expiry(body: &[u8]) -> Result<i64, String> {
    #[derive(Deserialize)]
    struct Issued {
        token: Expiring,
    }
    #[derive(Deserialize)]
    struct Expiring {
        expires_at: String,
    }
    let issued: Issued = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    seconds(&issued.token.expires_at)
}

fn seconds(expires_at: &str) -> Result<i64, String> {
    launcher::civil::unix_seconds_from_rfc3339(expires_at)
        .ok_or_else(|| format!("expires_at {expires_at:?} is not a time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_token_gives_its_user_project_and_roles() {
        let body =
            br#"{"token": {"methods": ["password"], "expires_at": "2026-12-02T19:00:00.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "member"}],
            "is_admin_project": false}}"#;
        let parsed = parse(body).expect("a token");
        assert_eq!(
            parsed.verdict,
            Verdict::Valid(Identity {
                user_id: "u1".into(),
                project_id: "p1".into(),
                roles: vec!["reader".into(), "member".into()],
            })
        );
        assert_eq!(
            Some(parsed.expires_at),
            launcher::civil::unix_seconds_from_rfc3339("2026-12-02T19:00:00Z")
        );
    }

    #[test]
    fn a_token_without_a_project_is_told_apart() {
        let body = br#"{"token": {"expires_at": "2026-12-02T19:00:00Z", "user": {"id": "u1"},
            "system": {"all": true}, "roles": [{"name": "admin"}]}}"#;
        assert_eq!(parse(body).expect("a token").verdict, Verdict::NoProject);
    }

    #[test]
    fn a_document_without_expiry_is_an_error() {
        assert!(parse(br#"{"token": {"user": {"id": "u1"}}}"#).is_err());
        assert!(expiry(b"not json").is_err());
    }
}
