//! [`EngineManager`]: the engine's RPC endpoint. A thin dispatcher: each method
//! parses its arguments, calls the store, and tells the downloader; no SQL,
//! no HTTP here. Every method works as a call and as a cast, and acts as
//! the [`Caller`] its context names: the store keeps it to its project
//! (see [`crate::scope`]).

use std::sync::Arc;

use rpc::{Context, Endpoint, MethodFuture, RemoteError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::Store;
use crate::downloader::Downloader;
use crate::error::Error;
use crate::objects::{ListQuery, Movie, MovieUpdate, NewMovie};
use crate::rpcapi::methods::{
    ALL, CREATE_MOVIE, DELETE_MOVIE, GET_ALL_MOVIE, GET_HEALTH, GET_MOVIE, UPDATE_MOVIE,
};
use crate::rpcapi::{NAMESPACE, RPC_API_VERSION};
use crate::scope::Caller;

/// The engine's endpoint.
pub struct EngineManager {
    store: Store,
    downloader: Arc<Downloader>,
}

impl EngineManager {
    /// A manager over `store`, handing downloads to `downloader`.
    pub fn new(store: Store, downloader: Arc<Downloader>) -> EngineManager {
        EngineManager { store, downloader }
    }

    async fn dispatch(
        &self,
        caller: &Caller,
        method: &str,
        mut args: Map<String, Value>,
    ) -> Result<Value, Error> {
        let store = &self.store;
        match method {
            GET_MOVIE => to_value(store.get(caller, uuid_arg(&mut args)?).await?),
            GET_ALL_MOVIE => {
                let paged = args.remove("paged").and_then(|p| p.as_bool()) == Some(true);
                let query: ListQuery = parse(Value::Object(args), "get_all_movie arguments")?;
                let (movies, more) = fit_reply(store.list(caller, &query).await?)?;
                if paged {
                    Ok(serde_json::json!({"movies": movies, "more": more}))
                } else {
                    Ok(Value::Array(movies))
                }
            }
            CREATE_MOVIE => {
                let new: NewMovie = parse(content(&mut args)?, "content_json")?;
                new.validate().map_err(Error::Invalid)?;
                let movie = store.create(caller, &new).await?;
                self.downloader.kick();
                to_value(movie)
            }
            UPDATE_MOVIE => {
                let id = uuid_arg(&mut args)?;
                let update: MovieUpdate = parse(content(&mut args)?, "content_json")?;
                update.validate().map_err(Error::Invalid)?;
                let updated = store.update(caller, id, &update).await?;
                if updated.url_changed {
                    // The bytes of the old URL must not be resumed from.
                    self.downloader.cancel(id);
                    self.downloader.remove_file(id).await;
                    self.downloader.kick();
                }
                to_value(updated.movie)
            }
            DELETE_MOVIE => {
                let id = uuid_arg(&mut args)?;
                store.delete(caller, id).await?;
                self.downloader.cancel(id);
                self.downloader.remove_file(id).await;
                Ok(Value::Null)
            }
            // The last periodic verdict: a probe must not wait on an fsync.
            GET_HEALTH => {
                let storage = self.downloader.storage().problem();
                Ok(serde_json::json!({"storage": storage.map(|p| p.summary())}))
            }
            _ => Err(Error::Internal),
        }
    }
}

impl Endpoint for EngineManager {
    fn namespace(&self) -> Option<&str> {
        Some(NAMESPACE)
    }

    fn version(&self) -> &str {
        RPC_API_VERSION
    }

    fn has_method(&self, method: &str) -> bool {
        ALL.contains(&method)
    }

    fn call<'a>(
        &'a self,
        context: Context,
        method: &'a str,
        args: Map<String, Value>,
    ) -> MethodFuture<'a> {
        let caller = Caller::from_context(&context);
        Box::pin(async move {
            self.dispatch(&caller, method, args)
                .await
                .map_err(RemoteError::from)
        })
    }
}

/// How many bytes of movies one listing reply may carry. The envelope
/// escapes the reply once more (a `"` becomes `\"`), so each movie counts
/// twice its JSON size; half the RPC layer's bound leaves room for the
/// envelope, and the message stays far below what a broker accepts.
const LIST_REPLY_BYTES: usize = rpc::MAX_MESSAGE_SIZE / 2;

/// The movies that fit in one reply, in order, and whether some were left
/// out. The first always goes: a single movie is bounded by validation.
fn fit_reply(movies: Vec<Movie>) -> Result<(Vec<Value>, bool), Error> {
    let total = movies.len();
    let mut fitted = Vec::with_capacity(total);
    let mut size = 0;
    for movie in movies {
        size += 2 * json_len(&movie);
        if size > LIST_REPLY_BYTES && !fitted.is_empty() {
            break;
        }
        fitted.push(to_value(movie)?);
    }
    let more = fitted.len() < total;
    if more {
        tracing::info!(
            movies = fitted.len(),
            asked = total,
            "listing ended early to keep the reply under {LIST_REPLY_BYTES} bytes"
        );
    }
    Ok((fitted, more))
}

/// The length of `movie` as JSON, counted without building the text.
fn json_len(movie: &Movie) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, nor can encoding a movie.
    let _ = serde_json::to_writer(&mut counter, movie);
    counter.0
}

fn uuid_arg(args: &mut Map<String, Value>) -> Result<Uuid, Error> {
    let value = args
        .remove("uuid")
        .ok_or_else(|| Error::Invalid("uuid is required".into()))?;
    value
        .as_str()
        .and_then(|text| Uuid::try_parse(text).ok())
        .ok_or_else(|| Error::Invalid(format!("{value} is not a valid uuid")))
}

/// `content_json`: an object, or (as some Python callers send it) a JSON string.
fn content(args: &mut Map<String, Value>) -> Result<Value, Error> {
    match args.remove("content_json") {
        Some(Value::String(text)) => serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("content_json is not JSON: {e}"))),
        Some(value) => Ok(value),
        None => Err(Error::Invalid("content_json is required".into())),
    }
}

fn parse<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Invalid(format!("invalid {what}: {e}")))
}

fn to_value<T: serde::Serialize>(value: T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|error| {
        tracing::error!(%error, "cannot encode a result");
        Error::Internal
    })
}
