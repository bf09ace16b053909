//! `[keystone_authtoken]`: the options keystonemiddleware's operators already
//! have in their files, with keystonemiddleware's names and meaning; the
//! other options it registers are accepted and ignored.

use std::path::PathBuf;
use std::time::Duration;

use launcher::Config;
use launcher::conf::{ConfigProblem, Opt, OptDefault, OptKind};

const SECTION: &str = "keystone_authtoken";

/// `www_authenticate_uri`: the Keystone endpoint users authenticate at.
pub static WWW_AUTHENTICATE_URI: Opt = Opt {
    section: SECTION,
    name: "www_authenticate_uri",
    kind: OptKind::Url {
        schemes: &["http", "https"],
    },
    default: OptDefault::Unset,
    help: "Complete public Identity API endpoint, sent to unauthenticated clients in the \
           WWW-Authenticate header of a 401 so that they know where to get a token. If \
           unset, auth_url is sent.",
    mutable: false,
    secret: false,
};

/// `auth_url`: where the service authenticates and validates tokens.
pub static AUTH_URL: Opt = Opt {
    section: SECTION,
    name: "auth_url",
    kind: OptKind::Url {
        schemes: &["http", "https"],
    },
    default: OptDefault::Unset,
    help: "The Identity API endpoint the service uses to get its own token and to validate \
           users' tokens, with or without its /v3 (for example http://keystone:5000/v3). \
           Required when [api] auth_strategy = keystone.",
    mutable: false,
    secret: false,
};

/// `auth_type`: how the service authenticates; only `password`.
pub static AUTH_TYPE: Opt = Opt {
    section: SECTION,
    name: "auth_type",
    kind: OptKind::Choice(&["password", "v3password"]),
    default: OptDefault::Value("password"),
    help: "Authentication type of the service's own credentials: password authentication \
           with username, password and project_name.",
    mutable: false,
    secret: false,
};

/// `username`: the service user.
pub static USERNAME: Opt = Opt {
    section: SECTION,
    name: "username",
    kind: OptKind::Str,
    default: OptDefault::Unset,
    help: "The service's user name in Keystone. Required when [api] auth_strategy = keystone.",
    mutable: false,
    secret: false,
};

/// `password`: the service user's password.
pub static PASSWORD: Opt = Opt {
    section: SECTION,
    name: "password",
    kind: OptKind::Str,
    default: OptDefault::Unset,
    help: "The service user's password.",
    mutable: false,
    secret: true,
};

/// `project_name`: the project the service's token is scoped to.
pub static PROJECT_NAME: Opt = Opt {
    section: SECTION,
    name: "project_name",
    kind: OptKind::Str,
    default: OptDefault::Value("service"),
    help: "The project the service's own token is scoped to.",
    mutable: false,
    secret: false,
};

/// `user_domain_name`: the service user's domain.
pub static USER_DOMAIN_NAME: Opt = Opt {
    section: SECTION,
    name: "user_domain_name",
    kind: OptKind::Str,
    default: OptDefault::Value("Default"),
    help: "The domain of the service user.",
    mutable: false,
    secret: false,
};

/// `project_domain_name`: the domain of the service's project.
pub static PROJECT_DOMAIN_NAME: Opt = Opt {
    section: SECTION,
    name: "project_domain_name",
    kind: OptKind::Str,
    default: OptDefault::Value("Default"),
    help: "The domain of the service's project.",
    mutable: false,
    secret: false,
};

/// `token_cache_time`: how long a validated token is trusted without asking.
pub static TOKEN_CACHE_TIME: Opt = Opt {
    section: SECTION,
    name: "token_cache_time",
    kind: OptKind::Int {
        min: Some(-1),
        max: None,
    },
    default: OptDefault::Value("300"),
    help: "Seconds a validated token (or a token Keystone refused) is remembered without \
           asking Keystone again, never beyond the token's own expiry. A token revoked in \
           Keystone is still accepted for up to this long. -1 turns the cache off: every \
           request asks Keystone.",
    mutable: false,
    secret: false,
};

/// `service_token_roles_required`: whether an `X-Service-Token` must hold a
/// service role.
pub static SERVICE_TOKEN_ROLES_REQUIRED: Opt = Opt {
    section: SECTION,
    name: "service_token_roles_required",
    kind: OptKind::Bool,
    default: OptDefault::Value("false"),
    help: "Whether a request's X-Service-Token is trusted only when it holds the service \
           role. The API does not use service tokens: the option is accepted for \
           keystonemiddleware's files and a service token is never a user's credential.",
    mutable: false,
    secret: false,
};

/// `cafile`: the CAs that sign Keystone's certificate.
pub static CAFILE: Opt = Opt {
    section: SECTION,
    name: "cafile",
    kind: OptKind::Str,
    default: OptDefault::Unset,
    help: "A PEM file of the certificate authorities that sign Keystone's HTTPS \
           certificate, used instead of the system's. If unset, the system's are used.",
    mutable: false,
    secret: false,
};

/// `insecure`: do not verify Keystone's certificate.
pub static INSECURE: Opt = Opt {
    section: SECTION,
    name: "insecure",
    kind: OptKind::Bool,
    default: OptDefault::Value("false"),
    help: "Do not verify Keystone's HTTPS certificate. Anyone on the path to Keystone can \
           then answer for it and let any token in: for tests only.",
    mutable: false,
    secret: false,
};

/// `http_connect_timeout`: how long to wait for a connection to Keystone.
pub static HTTP_CONNECT_TIMEOUT: Opt = Opt {
    section: SECTION,
    name: "http_connect_timeout",
    kind: OptKind::Int {
        min: Some(1),
        max: None,
    },
    default: OptDefault::Value("5"),
    help: "Seconds to wait for a connection to Keystone. A request to Keystone takes at \
           most http_request_timeout in all; a request whose token cannot be checked in \
           time is answered 503.",
    mutable: false,
    secret: false,
};

/// `http_request_timeout`: how long one request to Keystone may take.
pub static HTTP_REQUEST_TIMEOUT: Opt = Opt {
    section: SECTION,
    name: "http_request_timeout",
    kind: OptKind::Int {
        min: Some(1),
        max: None,
    },
    default: OptDefault::Value("10"),
    help: "Seconds one request to Keystone may take, connection included.",
    mutable: false,
    secret: false,
};

/// Every `[keystone_authtoken]` option.
pub static OPTS: &[&Opt] = &[
    &WWW_AUTHENTICATE_URI,
    &AUTH_URL,
    &AUTH_TYPE,
    &USERNAME,
    &PASSWORD,
    &PROJECT_NAME,
    &USER_DOMAIN_NAME,
    &PROJECT_DOMAIN_NAME,
    &TOKEN_CACHE_TIME,
    &SERVICE_TOKEN_ROLES_REQUIRED,
    &CAFILE,
    &INSECURE,
    &HTTP_CONNECT_TIMEOUT,
    &HTTP_REQUEST_TIMEOUT,
];

/// The service's own credentials.
#[derive(Clone)]
pub(crate) struct ServiceCredentials {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) project_name: String,
    pub(crate) user_domain_name: String,
    pub(crate) project_domain_name: String,
}

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

/// What the Keystone client is configured with.
#[derive(Debug, Clone)]
pub(crate) struct KeystoneSettings {
    /// The Identity v3 base, ending in `/v3`, without a trailing `/`.
    pub(crate) identity_v3: String,
    /// The value of `WWW-Authenticate` on a 401.
    pub(crate) www_authenticate: String,
    pub(crate) credentials: ServiceCredentials,
    /// `None`: no cache.
    pub(crate) cache_time: Option<Duration>,
    pub(crate) cafile: Option<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl KeystoneSettings {
    /// The settings `config` gives.
    ///
    /// # Errors
    /// The problems of a configuration that cannot reach Keystone: no
    /// `auth_url`, no `username` or `password`, an unreadable `cafile`.
    pub(crate) fn from_config(config: &Config) -> Result<KeystoneSettings, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut required = |opt: &'static Opt| match config.str(opt) {
            Some(value) if !value.is_empty() => value.to_owned(),
            _ => {
                problems.push(config.problem(
                    opt,
                    "must be set when [api] auth_strategy = keystone".to_owned(),
                ));
                String::new()
            }
        };
        let auth_url = required(&AUTH_URL);
        let username = required(&USERNAME);
        let password = required(&PASSWORD);
        let cafile = config
            .str(&CAFILE)
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        if let Some(file) = &cafile
            && let Err(error) = std::fs::metadata(file)
        {
            problems.push(config.problem(&CAFILE, format!("{}: {error}", file.display())));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let identity_v3 = identity_v3(&auth_url);
        let public = config
            .str(&WWW_AUTHENTICATE_URI)
            .filter(|uri| !uri.is_empty())
            .unwrap_or(&auth_url);
        let cache = config.int(&TOKEN_CACHE_TIME);
        Ok(KeystoneSettings {
            identity_v3,
            www_authenticate: format!("Keystone uri=\"{}\"", public.replace('"', "%22")),
            credentials: ServiceCredentials {
                username,
                password,
                project_name: config.text(&PROJECT_NAME).to_owned(),
                user_domain_name: config.text(&USER_DOMAIN_NAME).to_owned(),
                project_domain_name: config.text(&PROJECT_DOMAIN_NAME).to_owned(),
            },
            cache_time: (cache > 0).then(|| Duration::from_secs(cache.unsigned_abs())),
            cafile,
            insecure: config.bool(&INSECURE),
            connect_timeout: Duration::from_secs(config.int(&HTTP_CONNECT_TIMEOUT).unsigned_abs()),
            request_timeout: Duration::from_secs(config.int(&HTTP_REQUEST_TIMEOUT).unsigned_abs()),
        })
    }
}

/// `auth_url` as keystoneauth accepts it, with or without `/v3`, as the v3 base.
fn identity_v3(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        base.to_owned()
    } else {
        format!("{base}/v3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_url_is_taken_with_or_without_its_v3() {
        for url in [
            "http://keystone:5000",
            "http://keystone:5000/",
            "http://keystone:5000/v3",
            "http://keystone:5000/v3/",
        ] {
            assert_eq!(identity_v3(url), "http://keystone:5000/v3", "{url}");
        }
        assert_eq!(
            identity_v3("https://cloud.example/identity"),
            "https://cloud.example/identity/v3"
        );
    }
}
