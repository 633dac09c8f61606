//! Credentials that STS hands out: a role assumed with other credentials
//! (`-a`, or a profile's `role_arn`), or with an OIDC token (web identity).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{CredentialsFuture, ProvideCredentials};
use crate::aws::client::Client;
use crate::aws::sts::{self, AssumeRole};
use crate::error::Error;
use crate::files;

/// The session name AWS records in CloudTrail when none is configured.
pub fn default_session_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("ecs-deploy-{now}")
}

/// A role assumed with the credentials an STS client signs with.
pub struct AssumedRole {
    pub sts: Client,
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
}

impl ProvideCredentials for AssumedRole {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let request = AssumeRole {
                role_arn: &self.role_arn,
                session_name: &self.session_name,
                external_id: self.external_id.as_deref(),
                duration_seconds: self.duration_seconds,
            };
            sts::assume_role(&self.sts, &request)
                .await
                .map_err(|e| Error::aws(format!("cannot assume role {}: {e}", self.role_arn)))
        })
    }
}

/// A role assumed with the OIDC token in a file (EKS, GitHub Actions, GitLab).
pub struct WebIdentity {
    /// An unsigned STS client.
    pub sts: Client,
    pub role_arn: String,
    pub token_file: String,
    pub session_name: String,
}

impl ProvideCredentials for WebIdentity {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            // Re-read every time: the token file is rotated under us.
            let token = files::read_text(Path::new(&self.token_file))
                .await
                .map_err(|e| {
                    Error::aws(format!(
                        "cannot read the web identity token file {}: {e}",
                        self.token_file
                    ))
                })?;
            sts::assume_role_with_web_identity(
                &self.sts,
                &self.role_arn,
                &self.session_name,
                token.trim(),
            )
            .await
            .map_err(|e| {
                Error::aws(format!(
                    "cannot assume role {} with the web identity token: {e}",
                    self.role_arn
                ))
            })
        })
    }
}
