//! `unlock ID`: break a stale lease by hand (the lock tag of a run that died, before it expires by
//! itself). Only lock tags are deleted.

use super::connect::{connect, ConnectOptions};
use crate::api::{Method, WriteClient};
use crate::apply::lease::LockTag;
use crate::vars::Env;
use crate::{Error, ErrorKind};

/// Deletes lock tag `id`; returns the lease it was.
pub async fn run(id: u64, connect_opts: &ConnectOptions, env: Env<'_>) -> Result<LockTag, Error> {
    let session = connect(connect_opts, env).await?;
    let client = WriteClient::with_events(session.config.clone(), session.events.clone())?;
    let tag = client.tags().await?.into_iter().find(|t| t.id == id);
    if tag.is_none() {
        return Err(Error::new(ErrorKind::Refused, format!("the account has no tag {id}; nothing was deleted"))
            .with_hint(
                "`skyform plan` names a lease that is held (its lock tag id); it may have been given back already",
            ));
    }
    let lock = tag.as_ref().and_then(|t| LockTag::parse(t.id, &t.title)).ok_or_else(|| {
        Error::new(ErrorKind::Refused, format!("tag {id} is not a skyform lock tag; nothing was deleted"))
            .with_hint("`skyform plan` names the lease's tag id when an apply holds it")
    })?;
    client.send(Method::DELETE, &format!("/tags/{id}"), None).await?;
    Ok(lock)
}
