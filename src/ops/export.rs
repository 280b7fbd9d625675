//! `export`: connect (the API, or an in-process sandbox seeded from a file) and write the account as
//! manifests.

use super::connect::{connect, ConnectOptions};
use crate::api::ReadClient;
use crate::export::{export, ExportOptions, ExportReport};
use crate::vars::Env;
use crate::Error;

pub async fn run(connect_opts: &ConnectOptions, opts: &ExportOptions, env: Env<'_>) -> Result<ExportReport, Error> {
    let session = connect(connect_opts, env).await?;
    let client = ReadClient::with_events(session.config.clone(), session.events.clone())?;
    export(&client, opts).await
}
