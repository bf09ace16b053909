use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;

/// Test hashes use the lowest cost, to keep the tests fast.
const COST: u32 = 4;

fn file() -> &'static Path {
    Path::new("/etc/pymsboot/users")
}

fn hash(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, COST)
        .expect("cost 4 is allowed")
        .format_for_version(version)
}

fn header(credentials: &str) -> String {
    format!("Basic {}", BASE64.encode(credentials))
}

fn users(text: &str) -> BasicUsers {
    BasicUsers::from_text(text, file()).expect("the test file loads")
}

fn load_error(text: &str) -> UserFileError {
    BasicUsers::from_text(text, file()).expect_err("the test file is rejected")
}

fn identity(user: &str, project: &str, roles: &[&str]) -> Identity {
    Identity {
        user_id: user.into(),
        project_id: project.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

/// A file of the three bcrypt versions, with and without project and roles.
fn sample() -> String {
    format!(
        "# users\n\n\
         alice:{}\n\
         bob:{}:6f1e0c:reader\n  \
         carol:{}:ops:admin,member\r\n\
         dave:{}::reader\n\
         erin:{}:ops:\n",
        hash("alice-pw", bcrypt::Version::TwoY),
        hash("bob-pw", bcrypt::Version::TwoA),
        hash("carol-pw", bcrypt::Version::TwoB),
        hash("dave-pw", bcrypt::Version::TwoY),
        hash("erin-pw", bcrypt::Version::TwoY),
    )
}

#[test]
fn project_and_roles_are_parsed_or_defaulted() {
    let users = users(&sample());
    let cases = [
        ("alice:alice-pw", identity("alice", "default", &["member"])),
        ("bob:bob-pw", identity("bob", "6f1e0c", &["reader"])),
        (
            "carol:carol-pw",
            identity("carol", "ops", &["admin", "member"]),
        ),
        ("dave:dave-pw", identity("dave", "default", &["reader"])),
        ("erin:erin-pw", identity("erin", "ops", &["member"])),
    ];
    assert_eq!(users.len(), cases.len());
    for (credentials, expected) in cases {
        assert_eq!(
            users.authenticate(&header(credentials)),
            Ok(expected),
            "{credentials}"
        );
    }
}

#[test]
fn wrong_passwords_and_unknown_users_give_the_same_error() {
    let users = users(&sample());
    let cases = [
        "alice:wrong",
        "alice:",
        "alice:bob-pw",
        "mallory:alice-pw",
        ":alice-pw",
        "ALICE:alice-pw",
        "alice:alice-pw:extra",
    ];
    for credentials in cases {
        let error = users.authenticate(&header(credentials)).unwrap_err();
        assert_eq!(error, BasicAuthError::BadCredentials, "{credentials}");
        assert_eq!(error.to_string(), "wrong user name or password");
    }
}

#[test]
fn the_scheme_is_case_insensitive_and_spaces_are_tolerated() {
    let users = users(&sample());
    let encoded = BASE64.encode("alice:alice-pw");
    for value in [
        format!("basic {encoded}"),
        format!("BASIC {encoded}"),
        format!("  Basic   {encoded}  "),
        format!("Basic\t{encoded}"),
    ] {
        assert!(users.authenticate(&value).is_ok(), "{value}");
    }
}

#[test]
fn a_password_with_colons_keeps_them() {
    let text = format!("frank:{}\n", hash("a:b:c", bcrypt::Version::TwoY));
    let users = users(&text);
    assert!(users.authenticate(&header("frank:a:b:c")).is_ok());
    assert!(users.authenticate(&header("frank:a")).is_err());
}

#[test]
fn malformed_headers_are_told_apart() {
    let users = users(&sample());
    let not_utf8 = format!("Basic {}", BASE64.encode([0xff, 0xfe, b':', b'x']));
    let no_colon = header("alice");
    let cases: [(&str, &str); 7] = [
        ("", "expected `Basic <credentials>`"),
        ("Basic", "expected `Basic <credentials>`"),
        ("Bearer abc", "the scheme is not Basic"),
        ("Digest username=\"alice\"", "the scheme is not Basic"),
        ("Basic !!!not base64", "the credentials are not base64"),
        (&not_utf8, "the credentials are not UTF-8"),
        (&no_colon, "the credentials are not `user:password`"),
    ];
    for (value, reason) in cases {
        assert_eq!(
            users.authenticate(value),
            Err(BasicAuthError::MalformedHeader { reason }),
            "{value:?}"
        );
    }
}

#[test]
fn other_hash_formats_are_rejected_naming_file_line_and_user() {
    let good = hash("pw", bcrypt::Version::TwoY);
    let cases = [
        (
            "carol:$apr1$Q5bA3kx7$9wKj5l1r2w5p7b0QZp9a2/",
            "carol",
            "MD5",
        ),
        ("dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "dave", "SHA-1"),
        ("erin:rOI3cE4vmuWRw", "erin", "crypt or plain text"),
        ("frank:$6$salt$c2VjcmV0", "frank", "crypt ($id$)"),
        ("gina:$2x$04$abc", "gina", "bcrypt variant"),
        ("hank:$2y$04$tooshort", "hank", "malformed bcrypt"),
    ];
    for (line, user, format) in cases {
        let (_, hash) = line.split_once(':').expect("user:hash");
        let text = format!("# users\nalice:{good}\n{line}\n");
        let error = load_error(&text);
        assert!(
            matches!(&error, UserFileError::NotBcrypt { line: 3, user: u, .. } if u == user),
            "{error:?}"
        );
        let shown = error.to_string();
        assert!(
            shown.starts_with("user file /etc/pymsboot/users, line 3: "),
            "{shown}"
        );
        assert!(shown.contains(&format!("user \"{user}\"")), "{shown}");
        assert!(shown.contains(format), "{shown}");
        assert!(!shown.contains(hash), "{shown}");
        assert!(!format!("{error:?}").contains(hash), "{error:?}");
    }
}

#[test]
fn malformed_lines_and_fields_are_rejected() {
    let good = hash("pw", bcrypt::Version::TwoY);
    let cases = [
        ("justaname".to_string(), "expected `user:hash`"),
        (format!(":{good}"), "the user name is empty"),
        (
            format!("alice:{good}:my project"),
            "the project id holds whitespace",
        ),
        (format!("alice:{good}:p:admin,,member"), "empty role"),
        (format!("alice:{good}:p:ad min"), "a role holds whitespace"),
        (format!("alice:{good}:p:admin:more"), "too many fields"),
    ];
    for (line, reason) in cases {
        let error = load_error(&format!("\n{line}\n"));
        let shown = error.to_string();
        assert!(shown.contains("line 2: "), "{shown}");
        assert!(shown.contains(reason), "{shown}");
        assert!(!shown.contains(&good), "{shown}");
    }
}

#[test]
fn a_user_listed_twice_is_rejected() {
    let text = format!(
        "alice:{}\nbob:{}\n# again\nalice:{}\n",
        hash("one", bcrypt::Version::TwoY),
        hash("two", bcrypt::Version::TwoY),
        hash("three", bcrypt::Version::TwoY),
    );
    let error = load_error(&text);
    assert!(
        matches!(&error, UserFileError::Duplicate { line: 4, first: 1, user, .. } if user == "alice"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "user file /etc/pymsboot/users, line 4: user \"alice\" is already listed on line 1"
    );
}

#[test]
fn an_empty_file_lets_nobody_in() {
    let users = users("# nobody yet\n\n");
    assert!(users.is_empty());
    assert_eq!(
        users.authenticate(&header("alice:pw")),
        Err(BasicAuthError::BadCredentials)
    );
}

#[test]
fn debug_output_shows_no_hash_or_password() {
    let text = format!("alice:{}\n", hash("s3cret", bcrypt::Version::TwoY));
    let users = users(&text);
    let shown = format!("{users:?}");
    assert_eq!(shown, "BasicUsers { users: [\"alice\"] }");
    let error = users.authenticate(&header("alice:hunter2")).unwrap_err();
    assert!(!format!("{error:?} {error}").contains("hunter2"));
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let error = BasicUsers::load(Path::new("/nonexistent/pymsboot-users")).unwrap_err();
    assert!(matches!(error, UserFileError::Read { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("user file /nonexistent/pymsboot-users: ")
    );
}

/// A scratch file, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn htpasswd(args: &[&str]) -> bool {
    Command::new("htpasswd")
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn a_file_written_by_htpasswd_is_read() {
    let path = std::env::temp_dir().join(format!("pymsboot-htpasswd-{}", std::process::id()));
    let file = TempFile(path);
    let name = file.0.to_str().expect("a UTF-8 temp path");
    if !htpasswd(&["-cbB", "-C", "4", name, "alice", "alice-pw"]) {
        eprintln!("skipped: `htpasswd` (apache2-utils) is not installed");
        return;
    }
    assert!(htpasswd(&["-bB", "-C", "4", name, "bob", "bob-pw"]));
    let users = BasicUsers::load(&file.0).expect("htpasswd's file loads");
    let cases = [
        (
            "alice:alice-pw",
            Ok(identity("alice", "default", &["member"])),
        ),
        ("bob:bob-pw", Ok(identity("bob", "default", &["member"]))),
        ("alice:bob-pw", Err(BasicAuthError::BadCredentials)),
        ("carol:alice-pw", Err(BasicAuthError::BadCredentials)),
    ];
    for (credentials, expected) in cases {
        assert_eq!(
            users.authenticate(&header(credentials)),
            expected,
            "{credentials}"
        );
    }

    // An MD5 entry added by the same tool is refused, naming line and user.
    assert!(htpasswd(&["-bm", name, "carol", "carol-pw"]));
    let error = BasicUsers::load(&file.0).unwrap_err();
    let shown = error.to_string();
    assert!(shown.contains("line 3: user \"carol\""), "{shown}");
    assert!(shown.contains("MD5 ($apr1$)"), "{shown}");
}

#[test]
fn unknown_users_are_checked_against_a_hash_as_costly_as_the_costliest() {
    let cheap = hash("pw", bcrypt::Version::TwoY);
    let dearer = bcrypt::hash_with_result("pw", 5)
        .expect("cost 5 is allowed")
        .format_for_version(bcrypt::Version::TwoY);
    let users = users(&format!("alice:{cheap}\nbob:{dearer}\n"));
    let dummy: bcrypt::HashParts = users.dummy_hash.parse().expect("a bcrypt hash");
    assert_eq!(dummy.get_cost(), 5);
}
