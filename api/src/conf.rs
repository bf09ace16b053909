//! The `[api]` options, declared once; parsing, the sample and the docs read them.

use launcher::conf::{Opt, OptDefault, OptKind};

use crate::links::check_public_endpoint;

/// `[api] host`: the address the API listens on.
pub static HOST: Opt = Opt {
    section: "api",
    name: "host",
    kind: OptKind::HostAddress,
    default: OptDefault::Value("0.0.0.0"),
    help: "The IP address or host name the API server listens on.",
    mutable: false,
    secret: false,
};

/// `[api] port`: the TCP port the API listens on.
pub static PORT: Opt = Opt {
    section: "api",
    name: "port",
    kind: OptKind::Port,
    default: OptDefault::Value("9666"),
    help: "The TCP port the API server listens on.",
    mutable: false,
    secret: false,
};

/// `[api] api_workers`: how many worker processes serve the API.
pub static API_WORKERS: Opt = Opt {
    section: "api",
    name: "api_workers",
    kind: OptKind::Int {
        min: Some(0),
        max: Some(1024),
    },
    default: OptDefault::Value("0"),
    help: "Number of API worker processes. 0 means one per CPU available to the service.",
    mutable: false,
    secret: false,
};

/// `[api] max_request_body_size`: the largest request body accepted.
pub static MAX_REQUEST_BODY_SIZE: Opt = Opt {
    section: "api",
    name: "max_request_body_size",
    kind: OptKind::Int {
        min: Some(1),
        max: None,
    },
    default: OptDefault::Value("114688"),
    help: "The largest request body, in bytes, the API accepts; a larger one is answered with 413.",
    mutable: false,
    secret: false,
};

/// `[api] client_socket_timeout`: how long an idle client connection is kept.
pub static CLIENT_SOCKET_TIMEOUT: Opt = Opt {
    section: "api",
    name: "client_socket_timeout",
    kind: OptKind::Int {
        min: Some(0),
        max: None,
    },
    default: OptDefault::Value("900"),
    help: "Seconds a client connection may stay idle between requests before it is closed, \
           and the longest a client may pause while sending a request body (it is then \
           answered 408 and disconnected). 0 means no limit.",
    mutable: false,
    secret: false,
};

/// `[api] client_header_timeout`: how long a client may take to send a request's headers.
pub static CLIENT_HEADER_TIMEOUT: Opt = Opt {
    section: "api",
    name: "client_header_timeout",
    kind: OptKind::Int {
        min: Some(1),
        max: None,
    },
    default: OptDefault::Value("30"),
    help: "Seconds a client may take to send the headers of a request once it has begun; \
           a slower one is disconnected.",
    mutable: false,
    secret: false,
};

/// `[api] public_endpoint`: the URL clients reach the API at, for links.
pub static PUBLIC_ENDPOINT: Opt = Opt {
    section: "api",
    name: "public_endpoint",
    kind: OptKind::Checked {
        type_name: "uri value",
        check: check_public_endpoint,
    },
    default: OptDefault::Unset,
    help: "Public URL to use when building the links to the API resources (for example, \
           \"https://api.example.com:9666\"): the Location of a new movie, the links of the \
           version documents and the next link of a listing. If unset, the links are built \
           from the request's Host header when it is a plain host[:port], else from the \
           address the request arrived at. Set it when the API is reached through a proxy \
           or under another name.",
    mutable: false,
    secret: false,
};

/// `[api] auth_strategy`: who may call the API (CONTRACT §8).
pub static AUTH_STRATEGY: Opt = Opt {
    section: "api",
    name: "auth_strategy",
    kind: OptKind::Choice(&["keystone", "http_basic", "noauth"]),
    default: OptDefault::Value("keystone"),
    help: "How callers are authenticated. \"keystone\": an X-Auth-Token validated against \
           Keystone, configured in [keystone_authtoken]. \"http_basic\": HTTP basic \
           authentication against http_basic_auth_user_file. \"noauth\": no check at all, \
           every caller is an admin of project \"noauth\"; for a service only its own \
           machine can reach. GET /, GET /v1 and GET /healthcheck need no credentials.",
    mutable: false,
    secret: false,
};

/// `[api] http_basic_auth_user_file`: the users of `auth_strategy = http_basic`.
pub static HTTP_BASIC_AUTH_USER_FILE: Opt = Opt {
    section: "api",
    name: "http_basic_auth_user_file",
    kind: OptKind::Str,
    default: OptDefault::Value("/etc/pymsboot/htpasswd"),
    help: "Path to the user file of auth_strategy = http_basic: an htpasswd file of bcrypt \
           entries (htpasswd -B), \"user:hash\" per line, optionally followed by \
           \":project_id:role1,role2\" to give the user a project and roles (by default \
           project \"default\" and role \"member\"). Read at start and on SIGHUP; a file that \
           cannot be read or holds a bad entry is a configuration error.",
    mutable: false,
    secret: false,
};

/// Every `[api]` option.
pub static OPTS: &[&Opt] = &[
    &HOST,
    &PORT,
    &API_WORKERS,
    &MAX_REQUEST_BODY_SIZE,
    &CLIENT_SOCKET_TIMEOUT,
    &CLIENT_HEADER_TIMEOUT,
    &PUBLIC_ENDPOINT,
    &AUTH_STRATEGY,
    &HTTP_BASIC_AUTH_USER_FILE,
];
