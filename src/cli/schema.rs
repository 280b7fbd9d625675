//! `skyform schema`: print the manifest JSON Schema.

use skyform::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    print!("{}", skyform::manifest::schema::manifest_schema());
    Ok(0)
}
