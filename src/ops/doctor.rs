//! `doctor`: connect (the API, or an in-process sandbox) and probe the contract's assumptions, read-only.

use super::connect::{connect, ConnectOptions};
use crate::api::ReadClient;
use crate::doctor::Report;
use crate::vars::Env;
use crate::Error;

pub async fn run(connect_opts: &ConnectOptions, env: Env<'_>) -> Result<Report, Error> {
    let session = connect(connect_opts, env).await?;
    let client = ReadClient::with_events(session.config.clone(), session.events.clone())?;
    Ok(crate::doctor::run(&client, &session.config.base_url).await?)
}
