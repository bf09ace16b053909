//! [`EngineClient`]: the typed client of the engine's RPC API, used by the API
//! service (and by tests).
//!
//! RPC API version history (one version, shared by this client and the
//! manager through [`RPC_API_VERSION`]):
//! - 1.0: `get_movie`, `get_all_movie`, `create_movie`, `update_movie`,
//!   `delete_movie`.

use std::time::Duration;

use rpc::{Context, RpcClient, Target, Transport};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::Error;
use crate::objects::{ListQuery, Movie, MovieUpdate, NewMovie};

/// The version the manager implements and the client asks for.
pub const RPC_API_VERSION: &str = "1.0";
/// The namespace of the engine's endpoint.
pub const NAMESPACE: &str = "engine";

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

impl From<rpc::Error> for CallError {
    fn from(error: rpc::Error) -> CallError {
        match error.remote().and_then(Error::from_remote) {
            Some(engine) => CallError::Engine(engine),
            None => CallError::Rpc(error),
        }
    }
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
            .version(RPC_API_VERSION);
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
        self.call(context, "get_movie", json!({"uuid": id})).await
    }

    /// `get_all_movie(limit, marker, sort_key, sort_dir, state)` (call).
    ///
    /// # Errors
    /// [`CallError::Engine`] with `Invalid` (unknown marker), or [`CallError::Rpc`].
    pub async fn get_all_movie(
        &self,
        context: &Context,
        query: &ListQuery,
    ) -> Result<Vec<Movie>, CallError> {
        let args = serde_json::to_value(query).map_err(|e| CallError::Decode(e.to_string()))?;
        self.call(context, "get_all_movie", args).await
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
        self.call(context, "create_movie", json!({"content_json": new}))
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
            "update_movie",
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
            .call(context, "delete_movie", json!({"uuid": id}))
            .await?;
        Ok(())
    }

    /// `delete_movie(uuid)` as a cast: returns once the broker has it.
    ///
    /// # Errors
    /// [`CallError::Rpc`] when the broker is unreachable.
    pub async fn cast_delete_movie(&self, context: &Context, id: Uuid) -> Result<(), CallError> {
        Ok(self
            .client
            .cast(context, "delete_movie", object(json!({"uuid": id})))
            .await?)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        context: &Context,
        method: &str,
        args: Value,
    ) -> Result<T, CallError> {
        let result = self.client.call(context, method, object(args)).await?;
        serde_json::from_value(result).map_err(|e| CallError::Decode(format!("{method}: {e}")))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
