//! [`EngineClient`]: the typed client of the engine's RPC API, used by the API
//! service (and by tests).
//!
//! RPC API version history (the manager implements [`RPC_API_VERSION`]; the
//! client asks each method at the version that introduced it, so a newer API
//! keeps working against an older engine during a rolling upgrade):
//! - 1.0: `get_movie`, `get_all_movie`, `create_movie`, `update_movie`,
//!   `delete_movie`.
//! - 1.1: `get_health`; `get_all_movie(paged=true)` answers
//!   `{"movies": [...], "more": bool}` and may end a page early to keep its
//!   reply small. The client sends `paged` at 1.0: an older engine ignores the
//!   argument and answers a bare list, never cut short.
//! - 1.2: movies belong to a project. Every method acts as the caller its
//!   context names (`user`, `project_id`, `is_admin`; see [`crate::scope`]):
//!   movies carry `project_id` and `user_id`, another project's movie is
//!   `MovieNotFound`, and `get_all_movie(all_projects=true)` lists every
//!   project's movies for an admin. An engine older than 1.2 does not scope
//!   at all, so the client asks the movie methods at 1.2 whenever its
//!   context names a project: an older engine then refuses
//!   (`UnsupportedVersion`) instead of showing every project's movies.
//!   Engines are upgraded before the APIs.

use std::time::Duration;

use rpc::{Context, RpcClient, Target, Transport};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::Error;
use crate::objects::{ListQuery, Movie, MovieUpdate, NewMovie};

/// The version the manager implements.
pub const RPC_API_VERSION: &str = "1.2";
/// The version the client asks the methods of 1.0 at.
const BASE_VERSION: &str = "1.0";
/// The version a caller with a project asks the movie methods at.
const SCOPED_VERSION: &str = "1.2";
/// The namespace of the engine's endpoint.
pub const NAMESPACE: &str = "engine";

/// The method names of the engine's endpoint, spelled once for the client
/// and the manager so the two cannot drift apart.
pub(crate) mod methods {
    pub(crate) const GET_MOVIE: &str = "get_movie";
    pub(crate) const GET_ALL_MOVIE: &str = "get_all_movie";
    pub(crate) const CREATE_MOVIE: &str = "create_movie";
    pub(crate) const UPDATE_MOVIE: &str = "update_movie";
    pub(crate) const DELETE_MOVIE: &str = "delete_movie";
    /// Since 1.1.
    pub(crate) const GET_HEALTH: &str = "get_health";

    /// Every method the manager answers: CONTRACT §5's, and `get_health`.
    #[cfg(feature = "server")]
    pub(crate) const ALL: [&str; 6] = [
        GET_MOVIE,
        GET_ALL_MOVIE,
        CREATE_MOVIE,
        UPDATE_MOVIE,
        DELETE_MOVIE,
        GET_HEALTH,
    ];
}

/// Why a call to the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The engine refused the request (not found, exists, invalid).
    #[error(transparent)]
    Engine(Error),
    /// The engine could not be reached in time, or the broker is down.
    #[error(transparent)]
    Rpc(rpc::Error),
    /// The engine answered something this client cannot read.
    #[error("unexpected answer from the engine: {0}")]
    Decode(String),
}

impl CallError {
    /// Whether the engine does not know the method or its version: an older
    /// engine, during a rolling upgrade.
    pub fn is_unsupported(&self) -> bool {
        let remote = match self {
            CallError::Rpc(error) => error.remote(),
            _ => None,
        };
        remote.is_some_and(|r| matches!(r.class.as_str(), "UnsupportedVersion" | "NoSuchMethod"))
    }
}

impl From<rpc::Error> for CallError {
    fn from(error: rpc::Error) -> CallError {
        match error.remote().and_then(Error::from_remote) {
            Some(engine) => CallError::Engine(engine),
            None => CallError::Rpc(error),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoviePage {
    /// The movies, in the listing's order.
    pub movies: Vec<Movie>,
    /// Whether the engine ended the page before `limit` to keep its reply
    /// small: more movies follow the last one.
    pub more: bool,
}

/// What `get_all_movie(paged=true)` answers, by engine version.
#[derive(Deserialize)]
#[serde(untagged)]
enum PageReply {
    Page(MoviePage),
    List(Vec<Movie>),
}

/// What an engine says about its own health (`get_health`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct EngineHealth {
    /// Why its storage directory cannot hold movies, without the path;
    /// `None` when it can.
    #[serde(default)]
    pub storage: Option<String>,
}

/// Calls the engines of one topic.
#[derive(Debug, Clone)]
pub struct EngineClient {
    client: RpcClient,
}

impl EngineClient {
    /// A client of the engines consuming `topic`.
    pub fn new(transport: &Transport, topic: &str) -> EngineClient {
        let target = Target::new(topic)
            .namespace(NAMESPACE)
            .version(BASE_VERSION);
        EngineClient {
            client: RpcClient::new(transport, target),
        }
    }

    /// The same client with another reply timeout.
    pub fn with_timeout(&self, timeout: Duration) -> EngineClient {
        EngineClient {
            client: self.client.with_timeout(timeout),
        }
    }

    /// Waits until calls to the engine can be made on this process's broker
    /// connection (exchange declared, reply queue consumed), however long
    /// that takes; [`Transport::problems`] says meanwhile why not.
    pub async fn wait_ready(&self) {
        self.client.wait_ready().await;
    }

    /// `get_movie(uuid)` (call).
    ///
    /// # Errors
    /// [`CallError::Engine`] with `MovieNotFound`, or [`CallError::Rpc`].
    pub async fn get_movie(&self, context: &Context, id: Uuid) -> Result<Movie, CallError> {
        self.call(context, methods::GET_MOVIE, json!({"uuid": id}))
            .await
    }

    /// `get_health()` (call, 1.1): the answer of whichever engine takes it.
    ///
    /// # Errors
    /// [`CallError::Rpc`]; an engine older than 1.1 answers with a remote
    /// `UnsupportedVersion` ([`CallError::is_unsupported`]).
    pub async fn get_health(&self, context: &Context) -> Result<EngineHealth, CallError> {
        let target = self.client.target().clone().version("1.1");
        let result = self
            .client
            .prepare(target)
            .call(context, methods::GET_HEALTH, Map::new())
            .await?;
        serde_json::from_value(result)
            .map_err(|e| CallError::Decode(format!("{}: {e}", methods::GET_HEALTH)))
    }

    /// `get_all_movie(limit, marker, sort_key, sort_dir, state[, all_projects])` (call).
    ///
    /// # Errors
    /// [`CallError::Engine`] with `Invalid` (unknown marker), or [`CallError::Rpc`].
    pub async fn get_all_movie(
        &self,
        context: &Context,
        query: &ListQuery,
    ) -> Result<Vec<Movie>, CallError> {
        let args = serde_json::to_value(query).map_err(|e| CallError::Decode(e.to_string()))?;
        self.call(context, methods::GET_ALL_MOVIE, args).await
    }

    /// `get_all_movie(..., paged=true)` (call): a page the engine may end
    /// early to keep its reply small, and whether more movies follow. An
    /// engine that predates `paged` answers a bare list; then `more` is false.
    ///
    /// # Errors
    /// As [`EngineClient::get_all_movie`].
    pub async fn list_movies(
        &self,
        context: &Context,
        query: &ListQuery,
    ) -> Result<MoviePage, CallError> {
        let mut args = serde_json::to_value(query).map_err(|e| CallError::Decode(e.to_string()))?;
        args["paged"] = Value::Bool(true);
        let page: PageReply = self.call(context, methods::GET_ALL_MOVIE, args).await?;
        Ok(match page {
            PageReply::Page(page) => page,
            PageReply::List(movies) => MoviePage {
                movies,
                more: false,
            },
        })
    }

    /// `create_movie(content_json)` (call): the movie is committed when this returns.
    ///
    /// # Errors
    /// [`CallError::Engine`] with `MovieExists` or `Invalid`, or [`CallError::Rpc`].
    pub async fn create_movie(
        &self,
        context: &Context,
        new: &NewMovie,
    ) -> Result<Movie, CallError> {
        self.call(context, methods::CREATE_MOVIE, json!({"content_json": new}))
            .await
    }

    /// `update_movie(uuid, content_json)` (call).
    ///
    /// # Errors
    /// [`CallError::Engine`] with `MovieNotFound`, `MovieExists` or `Invalid`, or [`CallError::Rpc`].
    pub async fn update_movie(
        &self,
        context: &Context,
        id: Uuid,
        update: &MovieUpdate,
    ) -> Result<Movie, CallError> {
        self.call(
            context,
            methods::UPDATE_MOVIE,
            json!({"uuid": id, "content_json": update}),
        )
        .await
    }

    /// `delete_movie(uuid)` (call).
    ///
    /// # Errors
    /// [`CallError::Engine`] with `MovieNotFound`, or [`CallError::Rpc`].
    pub async fn delete_movie(&self, context: &Context, id: Uuid) -> Result<(), CallError> {
        let _: Value = self
            .call(context, methods::DELETE_MOVIE, json!({"uuid": id}))
            .await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        context: &Context,
        method: &str,
        args: Value,
    ) -> Result<T, CallError> {
        let scoped = context
            .get("project_id")
            .and_then(Value::as_str)
            .is_some_and(|project| !project.is_empty());
        let result = if scoped {
            let target = self.client.target().clone().version(SCOPED_VERSION);
            self.client
                .prepare(target)
                .call(context, method, object(args))
                .await?
        } else {
            self.client.call(context, method, object(args)).await?
        };
        serde_json::from_value(result).map_err(|e| CallError::Decode(format!("{method}: {e}")))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
