//! The five movie verbs: parse the request, call the engine, render.

use engine::EngineClient;
use engine::objects::ListQuery;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Response, StatusCode};
use rpc::Context;
use serde_json::Value;

use super::{base_url, json, json_with_status};
use crate::error::ApiError;
use crate::router::Call;
use crate::{schemas, views};

fn engine<'a>(call: &Call<'a>) -> Result<&'a EngineClient, ApiError> {
    call.state
        .engine
        .as_ref()
        .ok_or(ApiError::EngineUnavailable)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /v1/movies`.
pub async fn list(call: Call<'_>, context: &Context) -> Result<Response<Full<Bytes>>, ApiError> {
    let query = schemas::list_query(call.parts.uri.query())?;
    // One more than asked: whether it comes back says if a next page exists.
    let probe = ListQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let movies = engine(&call)?.get_all_movie(context, &probe).await?;
    Ok(json(&views::movie_list(
        &base_url(call.parts),
        &query,
        movies,
    )))
}

/// `POST /v1/movies`: 202 once the engine has committed the movie.
pub async fn create(call: Call<'_>, context: &Context) -> Result<Response<Full<Bytes>>, ApiError> {
    let new = schemas::create_body(&call.body)?;
    let movie = engine(&call)?.create_movie(context, &new).await?;
    let mut response = json_with_status(&to_json(&movie)?, StatusCode::ACCEPTED);
    let location = format!("{}/v1/movies/{}", base_url(call.parts), movie.id);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/movies/<id>`.
pub async fn show(
    call: Call<'_>,
    context: &Context,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let id = schemas::movie_id(id)?;
    let movie = engine(&call)?.get_movie(context, id).await?;
    Ok(json(&to_json(&movie)?))
}

/// `PUT /v1/movies/<id>`.
pub async fn update(
    call: Call<'_>,
    context: &Context,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let id = schemas::movie_id(id)?;
    let update = schemas::update_body(&call.body)?;
    let movie = engine(&call)?.update_movie(context, id, &update).await?;
    Ok(json(&to_json(&movie)?))
}

/// `DELETE /v1/movies/<id>`: 204.
pub async fn delete(
    call: Call<'_>,
    context: &Context,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let id = schemas::movie_id(id)?;
    engine(&call)?.delete_movie(context, id).await?;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
