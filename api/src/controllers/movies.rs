//! The five movie verbs: parse the request, call the engine, render.

use engine::EngineClient;
use engine::objects::ListQuery;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::{Call, base_url, json, json_with_status};
use crate::access::Caller;
use crate::error::{ApiError, Change};
use crate::idempotency;
use crate::{schemas, views};

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /v1/movies`: the caller's project's movies, or every project's
/// with `all_projects=true` when the policy allows it.
pub(crate) async fn list(
    call: Call<'_>,
    caller: &Caller,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let policy = &call.state.policy;
    caller.authorize(policy, "movie:get_all")?;
    let query = schemas::list_query(call.parts.uri.query())?;
    if query.all_projects {
        caller.authorize(policy, "movie:get_all:all_projects")?;
    }
    let context = caller.context();
    // One more than asked: whether it comes back says if a next page exists.
    let probe = ListQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let page = call.state.engine.list_movies(context, &probe).await?;
    Ok(json(&views::movie_list(
        &base_url(call.parts),
        &query,
        page.movies,
        page.more,
    )))
}

/// `POST /v1/movies`: 202 once the engine has committed the movie. With an
/// `Idempotency-Key`, a retry gets the movie the first attempt made.
pub(crate) async fn create(
    call: Call<'_>,
    caller: &Caller,
) -> Result<Response<Full<Bytes>>, ApiError> {
    caller.authorize(&call.state.policy, "movie:create")?;
    let context = caller.context();
    let mut new = schemas::create_body(&call.body)?;
    let keyed = idempotency::movie_id(&call.parts.headers, caller.project_id())?;
    let id = keyed.or(new.uuid).unwrap_or_else(Uuid::new_v4);
    new.uuid = Some(id);
    let engine = &call.state.engine;
    let movie = match engine.create_movie(context, &new).await {
        Ok(movie) => movie,
        // The key's id holds another movie: the key was used for another request.
        Err(engine::CallError::Engine(engine::Error::MovieExists { .. }))
            if keyed.is_some() && key_taken(engine, context, id).await? =>
        {
            return Err(ApiError::KeyReused { movie: id });
        }
        Err(error) => return Err(ApiError::from_change(error, Change::Create, id)),
    };
    let mut response = json_with_status(&to_json(&movie)?, StatusCode::ACCEPTED);
    let location = format!("{}/v1/movies/{}", base_url(call.parts), movie.id);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Whether a movie already has the id `id`.
async fn key_taken(
    engine: &EngineClient,
    context: &rpc::Context,
    id: Uuid,
) -> Result<bool, ApiError> {
    match engine.get_movie(context, id).await {
        Ok(_) => Ok(true),
        Err(engine::CallError::Engine(engine::Error::MovieNotFound { .. })) => Ok(false),
        Err(error) => Err(ApiError::from(error)),
    }
}

/// `GET /v1/movies/<id>`.
pub(crate) async fn show(
    call: Call<'_>,
    caller: &Caller,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    caller.authorize(&call.state.policy, "movie:get")?;
    let context = caller.context();
    let id = schemas::movie_id(id)?;
    let movie = call.state.engine.get_movie(context, id).await?;
    Ok(json(&to_json(&movie)?))
}

/// `PUT /v1/movies/<id>`.
pub(crate) async fn update(
    call: Call<'_>,
    caller: &Caller,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    caller.authorize(&call.state.policy, "movie:update")?;
    let context = caller.context();
    let id = schemas::movie_id(id)?;
    let update = schemas::update_body(&call.body)?;
    let movie = call
        .state
        .engine
        .update_movie(context, id, &update)
        .await
        .map_err(|error| ApiError::from_change(error, Change::Update, id))?;
    Ok(json(&to_json(&movie)?))
}

/// `DELETE /v1/movies/<id>`: 204.
pub(crate) async fn delete(
    call: Call<'_>,
    caller: &Caller,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    caller.authorize(&call.state.policy, "movie:delete")?;
    let context = caller.context();
    let id = schemas::movie_id(id)?;
    call.state
        .engine
        .delete_movie(context, id)
        .await
        .map_err(|error| ApiError::from_change(error, Change::Delete, id))?;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
