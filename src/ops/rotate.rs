//! `rotate KIND/NAME`: rotating a secret is an act, not a state. Under the lease, one request (the kind's
//! secret action), the new secret delivered to the sink; no manifests needed.

use super::apply::{Applied, Ui};
use super::connect::{connect, ConnectOptions};
use crate::api::WriteClient;
use crate::apply::lease::{self, LeaseOptions};
use crate::apply::{execute_plan, preflight, ApplyOptions};
use crate::plan::{Plan, PlanOptions, Target, FORMAT_VERSION};
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::time::Duration;

pub struct RotateRequest {
    pub target: Target,
    pub connect: ConnectOptions,
    pub apply: ApplyOptions,
    pub lock_timeout: Duration,
}

pub async fn run(req: &RotateRequest, env: Env<'_>, ui: &dyn Ui) -> Result<Applied, Error> {
    if req.target.name.is_none() {
        return Err(Error::new(ErrorKind::Usage, format!("rotate names one object: {}/NAME", req.target.kind)));
    }
    let sink = req.apply.sink()?;
    let session = connect(&req.connect, env).await?;
    let client = WriteClient::with_events(session.config.clone(), session.events.clone())?;
    let opts = LeaseOptions::for_this_run(env, req.lock_timeout, client.settle());
    let lease = lease::acquire(&client, &opts, &|t| ui.waiting(t)).await?;
    let result = async {
        // A plan of nothing but the rotation: no manifests, no other change.
        let empty = crate::manifest::ManifestSet::default();
        // No `targets`: they must name what manifests declare, and there are none here.
        let options = PlanOptions { rotate: vec![req.target.clone()], ..PlanOptions::default() };
        let mut plan: Plan = crate::plan::build(&empty, &client, &options).await.map_err(super::plan::plan_error)?;
        plan.changes.retain(|c| c.op == crate::plan::Op::Action);
        plan.unmanaged.clear();
        plan.format_version = FORMAT_VERSION;
        plan.summarize(client.budget());
        ui.show(&plan);
        preflight(&plan, &req.apply)?;
        let report = execute_plan(&plan, &client, Default::default(), sink, &req.apply, &|p| ui.progress(p)).await?;
        Ok(Applied { plan, report: Some(report) })
    }
    .await;
    let unknown = matches!(&result, Ok(Applied { report: Some(r), .. }) if r.has_unknown());
    let _ = lease.release(unknown).await;
    result
}
